//! The list filter: any text parses to a filter, to none, or to a message, without panicking
//! (nor overflowing the stack); a single comparison's value is folded, and an `eq` filter
//! matches an item whose field is its value.
#![no_main]

use keyflow::domain::filter::{Filter, FilterFields, Test};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::parse(text) {
        Ok(Some(filter)) => {
            if let Filter::Compare { field, test, value } = &filter {
                assert_eq!(value, &value.to_lowercase());
                if *test == Test::Equals {
                    let item = FilterFields {
                        developer_name: value.clone(),
                        developer_summary: Some(value.clone()),
                        id: value.clone(),
                    };
                    assert!(filter.matches(&item), "{field:?}");
                }
            }
            let _ = filter.matches(&FilterFields::default());
        }
        Ok(None) => assert!(text.trim().is_empty()),
        Err(message) => assert!(!message.0.is_empty()),
    }
});
