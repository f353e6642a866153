//! The TLS stack, chosen by cargo features (see the crate's `Cargo.toml`): `rustls` (rustls with
//! the aws-lc-rs crypto provider, the default), `rustls-ring` (rustls with ring, no C build of
//! aws-lc) or `native-tls` (the platform's TLS library). With none of them, pass your own
//! TLS-enabled client to [`ClientBuilder::http_client`](crate::ClientBuilder::http_client).

/// A `reqwest` builder for the SDK's own HTTP client, with the crypto provider the features ask
/// for in place.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    // reqwest's `rustls-no-provider` uses the process-wide default provider; install ring as
    // that default unless the application already chose one (then `install_default` fails
    // harmlessly and the application's choice stands).
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_http_client_builds_with_the_chosen_tls_stack() {
        // With `rustls-ring` alone, reqwest panics here unless a crypto provider is installed.
        super::client_builder()
            .build()
            .expect("the SDK's HTTP client builds");
    }
}
