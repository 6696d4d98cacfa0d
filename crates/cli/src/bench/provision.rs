//! The `provision` scenario of `tether bench`: N devices provisioned by claim, C at a time, each
//! as a device in the field does it — its own mutual-TLS connection with the claim certificate
//! (--cert/--key, or the data directory's demo device), a SUBSCRIBE to the answer topics,
//! CreateCertificateFromCsr with an EC P-256 CSR, RegisterThing with the ownership token and a
//! serial number, DISCONNECT. Devices provisioned per second and the time each took. The CSRs
//! are made before the clock starts (a device makes its key in the factory). It needs a broker
//! with AWS IoT fleet provisioning and an enabled template (--template) whose `SerialNumber`
//! parameter names the thing (tether serve; no peer broker has one); it creates things and
//! certificates there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use client::{Client, Message, QoS, TopicName};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::flow::{connect, rate, subscribe};
use super::report::{ProvisionFigures, Report};
use super::stats::Latency;
use super::{Plan, Progress, Target};

/// How long one answer may take.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Provisions `plan.connections` devices with template `template`.
pub async fn run(
    plan: &Plan,
    target: &Target,
    progress: &Arc<Progress>,
    template: &str,
) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let devices = plan.connections;
    let mut csrs = Vec::with_capacity(devices);
    for i in 0..devices {
        let key = pki::generate_key(pki::KeyAlgorithm::EcP256)?;
        let csr = pki::create_csr(&key, &format!("bench-device-{i}"))?;
        csrs.push(String::from_utf8(csr.to_pem().context("encoding a CSR")?)?);
    }
    let gate = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let target = Arc::new(target.clone());
    let template = Arc::new(template.to_owned());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (i, csr) in csrs.into_iter().enumerate() {
        let (gate, target, template, progress) = (
            Arc::clone(&gate),
            Arc::clone(&target),
            Arc::clone(&template),
            Arc::clone(progress),
        );
        tasks.spawn(async move {
            let _permit = gate.acquire().await;
            let began = Instant::now();
            let result = device(&target, &progress, i, &csr, &template).await;
            (result, began.elapsed())
        });
    }
    let mut latency = Latency::new();
    let mut provisioned = 0u64;
    let mut failed = 0u64;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((Ok(()), took)) => {
                provisioned += 1;
                latency.record(took);
                Progress::add(&progress.received, 1);
            }
            Ok((Err(error), _)) => {
                failed += 1;
                report.error(format!("{error:#}"));
            }
            Err(error) => {
                failed += 1;
                report.error(format!("a device task failed: {error}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let per_s = rate(
        provisioned,
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
    );
    report.sent = devices as u64;
    report.expected = devices as u64;
    report.received = provisioned;
    report.lost = failed;
    report.delivery_rate = per_s;
    report.latency = Some(latency.summary());
    report.provision = Some(ProvisionFigures {
        devices,
        concurrency: plan.concurrency,
        provisioned,
        failed,
        seconds: elapsed.as_secs_f64(),
        devices_per_s: per_s,
        per_device: latency.summary(),
    });
    Ok(report)
}

/// One device's whole flow.
async fn device(
    target: &Target,
    progress: &Progress,
    index: usize,
    csr: &str,
    template: &str,
) -> Result<()> {
    let client = connect(target, "device", index, false, progress).await?;
    let client = subscribe(
        client,
        "$aws/certificates/create-from-csr/json/+",
        QoS::AtLeastOnce,
    )
    .await?;
    let mut client = subscribe(
        client,
        &format!("$aws/provisioning-templates/{template}/provision/json/+"),
        QoS::AtLeastOnce,
    )
    .await?;
    let created = request(
        &mut client,
        "$aws/certificates/create-from-csr/json",
        &json!({ "certificateSigningRequest": csr }),
    )
    .await?;
    Progress::add(&progress.sent, 1);
    let token = created
        .get("certificateOwnershipToken")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("CreateCertificateFromCsr answered no token: {created}"))?;
    let registered = request(
        &mut client,
        &format!("$aws/provisioning-templates/{template}/provision/json"),
        &json!({
            "certificateOwnershipToken": token,
            "parameters": { "SerialNumber": format!("{index:06}") },
        }),
    )
    .await?;
    if registered.get("thingName").is_none() {
        bail!("RegisterThing answered no thingName: {registered}");
    }
    let _ = client.disconnect().await;
    Ok(())
}

/// Publishes a request and waits for its `/accepted` answer; a `/rejected` one is an error.
async fn request(client: &mut Client, topic: &str, body: &Value) -> Result<Value> {
    let name = TopicName::new(topic).map_err(|e| anyhow!("bench topic {topic}: {e}"))?;
    let message = Message::new(name, QoS::AtLeastOnce, Bytes::from(body.to_string()));
    client.publish(message).await?;
    let accepted = format!("{topic}/accepted");
    let rejected = format!("{topic}/rejected");
    loop {
        let got = tokio::time::timeout(ANSWER_WAIT, client.recv())
            .await
            .map_err(|_| anyhow!("no answer to {topic} within {} s", ANSWER_WAIT.as_secs()))??;
        let answer: Value = serde_json::from_slice(&got.payload)
            .with_context(|| format!("the answer on {} is not JSON", got.topic.as_str()))?;
        if got.topic.as_str() == accepted {
            return Ok(answer);
        }
        if got.topic.as_str() == rejected {
            bail!("{topic} was rejected: {answer}");
        }
    }
}
