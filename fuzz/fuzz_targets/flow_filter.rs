//! The flow filter: any text parses to a filter, to none, or to a message, without panicking;
//! an `eq` filter matches the name it names.
#![no_main]

use keyflow::domain::FlowFilter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FlowFilter::parse(text) {
        Ok(Some(filter)) => match &filter {
            FlowFilter::NameEquals(value) | FlowFilter::NameContains(value) => {
                assert_eq!(value, &value.to_lowercase());
                assert!(filter.matches(value));
            }
        },
        Ok(None) => assert!(text.trim().is_empty()),
        Err(message) => assert!(!message.0.is_empty()),
    }
});
