//! The key parser: any text is accepted or refused without panicking, and what is accepted is
//! exactly a key of keyflow's format, kept unchanged.
#![no_main]

use keyflow::auth::api_key::{ApiKey, KEY_LEN, PREFIX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(key.expose(), text);
        assert_eq!(text.len(), KEY_LEN);
        assert!(text.starts_with(PREFIX));
        assert!(
            text[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        );
        assert!(key.preview().ends_with(&text[KEY_LEN - 4..]));
    }
});
