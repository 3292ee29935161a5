//! The credential headers: any set of header lines is read into credentials or refused with a
//! 400, without panicking; what is read matches the headers sent.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use keyflow::auth::api_key::ApiKey;
use keyflow::http::error::ApiError;
use keyflow::http::extract::{API_KEY_HEADER, Presented, TENANT_HEADER, credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One header a line, `name: value`; lines that are not a valid header are dropped, as
    // hyper would refuse them.
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    match credentials(&headers) {
        Ok(read) => {
            // With no credential at all, nothing else is read: the answer is a 401 anyway. An
            // empty or `null` tenant header is read as none.
            let presents = read.presented != Presented::Nothing;
            let names_tenant = headers.get(TENANT_HEADER).is_some_and(|value| {
                let value = value.as_bytes().trim_ascii();
                !value.is_empty() && !value.eq_ignore_ascii_case(b"null")
            });
            assert_eq!(read.tenant.is_some(), presents && names_tenant);
            match read.presented {
                Presented::ApiKey(key) => {
                    assert!(headers.contains_key(API_KEY_HEADER));
                    let _ = ApiKey::parse(key);
                }
                Presented::KeyToken(token) => {
                    assert!(headers.contains_key(API_KEY_HEADER));
                    assert!(token.starts_with("kft_"));
                }
                Presented::Token(token) => {
                    assert!(!headers.contains_key(API_KEY_HEADER));
                    assert_eq!(token, token.trim_start());
                }
                Presented::Nothing => {
                    assert!(!headers.contains_key(API_KEY_HEADER));
                    assert!(!headers.contains_key(http::header::AUTHORIZATION));
                }
            }
        }
        Err(error) => assert!(matches!(error, ApiError::BadRequest(_)), "{error:?}"),
    }
});
