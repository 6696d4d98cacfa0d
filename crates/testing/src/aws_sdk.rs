//! The AWS SDK for Rust pointed at a [`TestServer`] (feature `aws-sdk`): an `aws_sdk_iot`
//! config with the server's API as endpoint URL, its test credential, its region, and a plain
//! HTTP client (the API listens on loopback without TLS, so no TLS stack is compiled in). It
//! does not read `~/.aws` or the environment: tests get the server they started, whatever the
//! machine's AWS configuration says.

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};

use crate::TestServer;

impl TestServer {
    /// An `aws_sdk_iot` config for this server's control plane.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tether_testing::TestServer;
    /// use tether_testing::aws_sdk_iot;
    ///
    /// let server = TestServer::start().await?;
    /// let iot = aws_sdk_iot::Client::from_conf(server.iot_config());
    /// let created = iot.create_thing().thing_name("gateway-7").send().await?;
    /// assert!(created.thing_arn().unwrap_or_default().ends_with(":thing/gateway-7"));
    /// let things = iot.list_things().send().await?;
    /// assert!(things.things().iter().any(|t| t.thing_name() == Some("gateway-7")));
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
    pub fn iot_config(&self) -> aws_sdk_iot::Config {
        let credentials = Credentials::new(
            self.access_key_id(),
            self.secret_access_key(),
            None,
            None,
            "tether-testing",
        );
        aws_sdk_iot::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.api_url())
            .region(Region::new(self.region().to_owned()))
            .credentials_provider(credentials)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build()
    }
}
