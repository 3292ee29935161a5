//! The flow body: any bytes parse to a request or to a 400/422, without panicking; a request
//! that becomes a draft keeps a valid name and settings that serialize.
#![no_main]

use keyflow::api::flow_json::FlowRequest;
use keyflow::domain::FlowName;
use keyflow::http::error::ApiError;
use keyflow::http::json::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = match parse::<FlowRequest>(data) {
        Ok(request) => request,
        Err(error) => {
            assert!(
                matches!(error, ApiError::BadRequest(_) | ApiError::Unprocessable(_)),
                "{error:?}"
            );
            return;
        }
    };
    let _ = request.target();
    if let Ok(draft) = request.into_draft() {
        let name = draft.developer_name.as_str();
        assert_eq!(FlowName::parse(name).unwrap().as_str(), name);
        serde_json::to_string(&draft.settings).unwrap();
    }
});
