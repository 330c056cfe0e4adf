//! The password and ACL files, end to end: refused CONNECTs, SUBSCRIBEs
//! and PUBLISHes, in both protocol versions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use mqttkit_broker::auth::hash_password;
use mqttkit_tokio::mqttkit_session::{Connect, MqttString, Packet};
use mqttkit_tokio::{
    Client, ConnectReasonCode, ProtocolVersion, PubAckReasonCode, QoS, ReasonCode, SubAckReasonCode,
};
use support::{Raw, config, message_within, next_message, options, start};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V3: ProtocolVersion = ProtocolVersion::V3_1_1;

const ACL: &str = "\
allow subscribe user alice   readings/#
deny  publish   user alice   readings/locked
allow publish   user alice   readings/#
allow all       user bob     readings/#
";

/// A directory with a password file (alice: wonderland, bob: builder)
/// and the ACL above; removed on drop.
struct Files(PathBuf);

impl Files {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("mqttkit-broker-auth-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let passwords = format!(
            "alice:{}\nbob:{}\n",
            hash_password(b"wonderland").unwrap(),
            hash_password(b"builder").unwrap()
        );
        std::fs::write(dir.join("passwords"), passwords).unwrap();
        std::fs::write(dir.join("acl"), ACL).unwrap();
        Self(dir)
    }

    fn config(&self, allow_anonymous: bool) -> mqttkit_broker::Config {
        let mut c = config();
        c.auth.password_file = Some(self.0.join("passwords"));
        c.auth.acl_file = Some(self.0.join("acl"));
        c.auth.allow_anonymous = allow_anonymous;
        c
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The CONNACK code a raw client gets for `user`/`password`.
async fn connack(
    addr: std::net::SocketAddr,
    version: ProtocolVersion,
    user: Option<&str>,
    password: &str,
) -> ConnectReasonCode {
    let mut raw = Raw::connect(addr, version).await;
    let mut connect = Connect::new(version, MqttString::try_from("who").unwrap());
    if let Some(user) = user {
        connect.login.username = Some(MqttString::try_from(user).unwrap());
        connect.login.password = Some(password.as_bytes().to_vec().into());
    }
    raw.send(connect).await;
    let Some(Packet::ConnAck(ack)) = raw.recv().await else {
        panic!("no CONNACK");
    };
    ack.reason_code
}

/// v5 [MQTT-3.1.4-2], v5 §3.2.2.2: a wrong password gets 0x86, no user
/// name 0x87 when anonymous clients are not allowed (3.1.1: return codes
/// 4 and 5); the right one is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_mqtt_3_1_4_2_credentials_are_checked() {
    let files = Files::new("connect");
    let (_broker, addr) = start(files.config(false)).await;
    for version in [V5, V3] {
        assert_eq!(
            connack(addr, version, Some("alice"), "wonderland").await,
            ConnectReasonCode::Success
        );
        assert_eq!(
            connack(addr, version, Some("alice"), "looking-glass").await,
            ConnectReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            connack(addr, version, Some("mallory"), "wonderland").await,
            ConnectReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            connack(addr, version, None, "").await,
            ConnectReasonCode::NotAuthorized
        );
    }
}

async fn login(
    addr: std::net::SocketAddr,
    id: &str,
    user: &str,
    password: &str,
    version: ProtocolVersion,
) -> (Client, mqttkit_tokio::Events) {
    let opts = options(addr, id, version)
        .username(user)
        .password(password.as_bytes().to_vec());
    Client::connect(opts).await.unwrap()
}

/// A subscription the ACL does not allow is refused: v5 SUBACK 0x87
/// (v5 §3.9.3), 3.1.1 SUBACK 0x80 (v3.1.1 §3.9.3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_and_v3_denied_subscribe_gets_a_failure_code() {
    let files = Files::new("subscribe");
    let (_broker, addr) = start(files.config(false)).await;
    let (alice, _ev) = login(addr, "a5", "alice", "wonderland", V5).await;
    assert_eq!(
        alice
            .subscribe("readings/#", QoS::AtLeastOnce)
            .await
            .unwrap(),
        SubAckReasonCode::GrantedQoS1
    );
    assert_eq!(
        alice.subscribe("other/#", QoS::AtLeastOnce).await.unwrap(),
        SubAckReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.subscribe("#", QoS::AtLeastOnce).await.unwrap(),
        SubAckReasonCode::NotAuthorized,
        "# covers more than readings/#"
    );
    let (alice3, _ev3) = login(addr, "a3", "alice", "wonderland", V3).await;
    let code = alice3.subscribe("other/#", QoS::AtLeastOnce).await.unwrap();
    assert!(code.is_error(), "3.1.1 failure (0x80), got {code:?}");
}

/// A publish the ACL does not allow: PUBACK 0x87 in 5.0 (v5 §3.4.2.1);
/// in 3.1.1, which has no refusal, acknowledged and dropped. Either way
/// no subscriber receives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_and_v3_denied_publish_is_not_delivered() {
    let files = Files::new("publish");
    let (_broker, addr) = start(files.config(false)).await;
    let (bob, mut bob_ev) = login(addr, "b", "bob", "builder", V5).await;
    bob.subscribe("readings/#", QoS::AtLeastOnce).await.unwrap();
    let (alice, _ev) = login(addr, "a5", "alice", "wonderland", V5).await;
    let reason = alice
        .publish("readings/locked", QoS::AtLeastOnce, "no")
        .await
        .unwrap();
    assert_eq!(reason, ReasonCode::from(PubAckReasonCode::NotAuthorized));
    let (alice3, _ev3) = login(addr, "a3", "alice", "wonderland", V3).await;
    let reason = alice3
        .publish("readings/locked", QoS::AtLeastOnce, "no")
        .await
        .unwrap();
    assert!(!reason.is_error(), "3.1.1 acknowledges, got {reason:?}");
    // An allowed one arrives, and it is the first bob sees.
    alice
        .publish("readings/open", QoS::AtLeastOnce, "yes")
        .await
        .unwrap();
    let got = next_message(&mut bob_ev).await;
    assert_eq!(
        (got.topic_str(), &got.payload[..]),
        ("readings/open", &b"yes"[..])
    );
    assert!(
        message_within(&mut bob_ev, Duration::from_millis(300))
            .await
            .is_none()
    );
}
