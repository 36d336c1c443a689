//! The audit trail of admin requests: who (the administrator), from where (client address,
//! user agent) and which request, so a handler records an event in one line.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use audit::{ActorType, AuditEvent, AuditLog, Outcome};

use crate::extract::Admin;
use crate::middleware::RequestContext;
use crate::{ApiError, AppState};

/// Longest user agent kept in an event.
const MAX_USER_AGENT: usize = 512;

/// What every audit event of a request shares.
#[derive(Debug, Clone)]
pub struct Trail {
    log: AuditLog,
    request_id: Option<String>,
    client_addr: String,
    user_agent: Option<String>,
}

impl FromRequest for Trail {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trail = req
            .app_data::<web::Data<AppState>>()
            .map(|s| Self {
                log: s.audit.clone(),
                request_id: req
                    .extensions()
                    .get::<RequestContext>()
                    .map(|c| c.request_id.clone()),
                client_addr: s.settings.trusted_proxies.client_address(req).to_string(),
                user_agent: req
                    .headers()
                    .get(actix_web::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.chars().take(MAX_USER_AGENT).collect()),
            })
            .ok_or_else(|| {
                ApiError::internal(&std::io::Error::other("application state is missing"))
            });
        std::future::ready(trail)
    }
}

impl Trail {
    /// An event of this request, without an actor.
    pub fn event(&self, actor: ActorType, action: &str, outcome: Outcome) -> AuditEvent {
        let mut e = AuditEvent::new(actor, action, outcome);
        e.request_id.clone_from(&self.request_id);
        e.client_addr = Some(self.client_addr.clone());
        e.user_agent.clone_from(&self.user_agent);
        e
    }

    /// A successful change by `admin`; `edit` fills in the target.
    pub async fn admin(&self, admin: &Admin, action: &str, edit: impl FnOnce(&mut AuditEvent)) {
        let mut e = self.event(ActorType::Admin, action, Outcome::Success);
        e.actor_id = Some(admin.0.user.username.to_string());
        edit(&mut e);
        self.log.record(e).await;
    }

    /// Records an event built with [`Trail::event`].
    pub async fn record(&self, event: AuditEvent) {
        self.log.record(event).await;
    }
}
