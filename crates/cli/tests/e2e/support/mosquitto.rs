//! A real mosquitto broker for the pub/sub, doctor and bridge tests: certificates made with
//! `pki`, a generated config with a mutual-TLS listener (`require_certificate true`), a plain
//! one, one that refuses everyone and one with an ACL (topics under `ok/` only), free loopback
//! ports (mosquitto cannot bind port 0: it takes `listener 0` for a Unix socket) and a
//! readiness poll with a deadline; persistence in its directory, so a stop and a restart on the
//! same ports keep its sessions and their queues. It does not drive clients; the tests do.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::strings;

/// mosquitto on four loopback ports: mutual TLS (`require_certificate true`), plain, a plain
/// listener that refuses everyone (CONNACK not authorised), and a plain one whose ACL allows
/// reading and writing topics under `ok/` only.
pub struct Mosquitto {
    child: Child,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    pub tls: u16,
    pub plain: u16,
    pub refuse: u16,
    pub acl: u16,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        write_pki(dir.path());
        // mosquitto cannot bind port 0: take free ports from the kernel, release them and
        // retry with new ones if another process grabbed one in between.
        std::fs::write(dir.path().join("acl"), "topic readwrite ok/#\n").unwrap();
        for _ in 0..5 {
            let [tls, plain, refuse, acl] = free_ports();
            let config = dir.path().join("mosquitto.conf");
            let d = dir.path().display();
            // `user root` keeps mosquitto from dropping to user "mosquitto" when the tests
            // run as root (it could not read the 0600 keys); it is ignored otherwise.
            std::fs::write(
                &config,
                format!(
                    "per_listener_settings true\nuser root\n\
                     persistence true\npersistence_location {d}/\n\
                     listener {tls} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
                     keyfile {d}/server.key\nrequire_certificate true\nallow_anonymous true\n\
                     listener {plain} 127.0.0.1\nallow_anonymous true\n\
                     listener {refuse} 127.0.0.1\nallow_anonymous false\n\
                     listener {acl} 127.0.0.1\nallow_anonymous true\nacl_file {d}/acl\n"
                ),
            )
            .unwrap();
            let mut child = Command::new("mosquitto")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("mosquitto is installed by scripts/setup");
            if wait_ready(&mut child, &[tls, plain, refuse, acl]) {
                return Mosquitto {
                    child,
                    dir,
                    config,
                    tls,
                    plain,
                    refuse,
                    acl,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not start on five sets of free ports");
    }

    /// Stops the broker with SIGTERM (it saves its sessions and queues) and waits for it.
    pub fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM mosquitto failed");
        self.child.wait().unwrap();
    }

    /// Starts the broker again on the same ports with what it saved, and waits until it
    /// accepts connections.
    pub fn restart(&mut self) {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ports = [self.tls, self.plain, self.refuse, self.acl];
        assert!(
            wait_ready(&mut child, &ports),
            "mosquitto did not start again on its ports {ports:?}"
        );
        self.child = child;
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// mTLS flags for the test client ("localhost" is the name the server certificate has).
    pub fn tls_args(&self) -> Vec<String> {
        vec![
            "--cafile".into(),
            self.file("ca.pem"),
            "--cert".into(),
            self.file("client.pem"),
            "--key".into(),
            self.file("client.key"),
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.tls.to_string(),
        ]
    }

    pub fn plain_args(&self) -> Vec<String> {
        strings(&["-h", "127.0.0.1", "-p", &self.plain.to_string()])
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls TCP connects to every listener until they accept, or mosquitto exits, or 10 s pass.
fn wait_ready(child: &mut Child, ports: &[u16]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ports
            .iter()
            .all(|port| TcpStream::connect(("127.0.0.1", *port)).is_ok())
        {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// Four ports that were free a moment ago.
pub fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}

/// A test CA, a server certificate for DNS:localhost only (so 127.0.0.1 is a name mismatch),
/// a client certificate (also in DER), and a second CA that signed nothing here.
fn write_pki(dir: &Path) {
    let validity = pki::Validity::days_from_now(2);
    let ca =
        pki::CertificateAuthority::generate("pubsub test CA", pki::KeyAlgorithm::EcP256, validity)
            .unwrap();
    let server_key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let server = ca
        .issue_server(&server_key, &["localhost".to_owned()], &[], validity)
        .unwrap();
    let client_key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let client = ca
        .issue_client("pubsub-client", &client_key, validity)
        .unwrap();
    let other =
        pki::CertificateAuthority::generate("unrelated CA", pki::KeyAlgorithm::EcP256, validity)
            .unwrap();
    let pem = |cert: &pki::X509Ref| pki::certificate_pem(cert).unwrap();
    let key =
        |k: &pki::PKeyRef<pki::Private>| pki::private_key_pem(k, pki::KeyFormat::Pkcs8).unwrap();
    pki::write_public_file(&dir.join("ca.pem"), &pem(ca.certificate())).unwrap();
    pki::write_public_file(&dir.join("other-ca.pem"), &pem(other.certificate())).unwrap();
    pki::write_public_file(&dir.join("server.pem"), &pem(&server)).unwrap();
    pki::write_private_key(&dir.join("server.key"), &key(&server_key)).unwrap();
    pki::write_public_file(&dir.join("client.pem"), &pem(&client)).unwrap();
    pki::write_private_key(&dir.join("client.key"), &key(&client_key)).unwrap();
    pki::write_public_file(
        &dir.join("client.der"),
        &pki::certificate_der(&client).unwrap(),
    )
    .unwrap();
    pki::write_private_key(
        &dir.join("client.key.der"),
        &pki::private_key_der(&client_key, pki::KeyFormat::Pkcs8).unwrap(),
    )
    .unwrap();
    pki::write_private_key(&dir.join("other.key"), &key(other.key())).unwrap();
}
