//! Request ids (ASSUMPTIONS Q1): echo a well-formed caller id, otherwise make one up.

use pearsana_api::spec::MAX_REQUEST_ID_LEN;

/// Header that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = pearsana_api::spec::headers::X_REQUEST_ID;

/// The id to use for a request: the caller's when it is 1 to `MAX_REQUEST_ID_LEN` visible ASCII
/// characters, a fresh UUID otherwise.
pub fn choose(caller: Option<&[u8]>) -> String {
    match caller {
        Some(raw) if is_valid(raw) => String::from_utf8_lossy(raw).into_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// Whether a caller-supplied id may be echoed.
pub fn is_valid(raw: &[u8]) -> bool {
    !raw.is_empty()
        && raw.len() <= MAX_REQUEST_ID_LEN
        && raw.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_are_echoed_and_others_replaced() {
        assert_eq!(choose(Some(b"abc-123")), "abc-123");
        let long = [b'a'; MAX_REQUEST_ID_LEN + 1];
        for bad in [&b""[..], b"has space", &long[..], "é".as_bytes()] {
            let id = choose(Some(bad));
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} -> {id}");
        }
        assert!(uuid::Uuid::parse_str(&choose(None)).is_ok());
    }
}
