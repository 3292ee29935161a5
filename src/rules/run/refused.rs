//! The audit of a run refused by the flow's authorization (`run.refused`): counted through
//! the same aggregator as refused credentials ([`Refusals`]), so a flood of refused runs
//! writes one event per group and window, never one per request.

use std::net::IpAddr;

use super::{NEEDS_CREDENTIAL, Runner};
use crate::domain::{TenantId, Timestamp};
use crate::rules::RuleError;
use crate::rules::refusals::{Refusal, Refusals};

/// The action of the events.
pub const ACTION: &str = "run.refused";

/// Who was refused, where: what the edge knows of the request.
#[derive(Debug, Clone)]
pub struct Refused {
    pub runner: Runner,
    pub tenant: TenantId,
    pub address: IpAddr,
    /// The preview of the API key presented (`kf_…wxyz`), never its value; `None` for a
    /// token, a session or no credential.
    pub preview: Option<String>,
    pub request_id: String,
}

/// Why the run rules refused `runner` with `error`, as the audit records it: `not_public`
/// (nobody, on a flow that is not public), `not_authorized` (a member the flow's authorization
/// leaves out), `credential_needed` (nobody, on a state's values). `None`: not a refusal of
/// who runs (a missing flow, a bad request…), which is not counted.
pub fn reason(error: &RuleError, runner: Runner) -> Option<&'static str> {
    let RuleError::NotAllowed(message) = error else {
        return None;
    };
    Some(match runner {
        Runner::Anonymous if message == NEEDS_CREDENTIAL => "credential_needed",
        Runner::Anonymous => "not_public",
        Runner::Member(_) => "not_authorized",
    })
}

/// Counts `error` for the audit trail when it refused who runs (see [`reason`]); anything
/// else is left alone.
pub fn note(refusals: &Refusals, error: &RuleError, refused: Refused) {
    let Some(reason) = reason(error, refused.runner) else {
        return;
    };
    let refusal = Refusal {
        action: ACTION,
        reason,
        address: refused.address,
        tenant: Some(refused.tenant),
        preview: refused.preview,
    };
    refusals.note(refusal, Timestamp::now(), Some(refused.request_id));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn only_a_refusal_of_who_runs_has_a_reason() {
        let member = Runner::Member(UserId::generate());
        let not_allowed = RuleError::NotAllowed("no".into());
        assert_eq!(reason(&not_allowed, Runner::Anonymous), Some("not_public"));
        assert_eq!(reason(&not_allowed, member), Some("not_authorized"));
        let values = RuleError::NotAllowed(NEEDS_CREDENTIAL.into());
        assert_eq!(
            reason(&values, Runner::Anonymous),
            Some("credential_needed")
        );
        assert_eq!(reason(&RuleError::Missing("flow".into()), member), None);
    }
}
