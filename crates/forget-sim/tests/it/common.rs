//! Shared helpers of the simulator's black-box tests: a simulator on 127.0.0.1:0 and a
//! client for it.

use std::sync::Arc;
use std::time::Duration;

use forget_sim::{self as sim, DELETE_PATH, Sim, SimConfig, SimHandle};
use serde_json::{Value, json};

pub const TOKEN: &str = "sim-token";

pub fn config(keys: &[&str]) -> SimConfig {
    SimConfig {
        profiles: vec![(
            "customers".to_owned(),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        )],
        ..SimConfig::default()
    }
}

pub struct Fixture {
    pub sim: Arc<Sim>,
    pub handle: SimHandle,
    pub client: reqwest::Client,
}

impl Fixture {
    pub async fn new(cfg: SimConfig) -> Fixture {
        let sim = Sim::new(cfg);
        let handle = sim::spawn(Arc::clone(&sim)).await.unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Fixture {
            sim,
            handle,
            client,
        }
    }

    pub fn url(&self) -> String {
        format!("{}{DELETE_PATH}", self.handle.url())
    }

    pub async fn send_raw(
        &self,
        token: Option<&str>,
        body: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await
    }

    pub async fn send(&self, body: Value) -> reqwest::Result<reqwest::Response> {
        self.send_raw(Some(TOKEN), &body.to_string()).await
    }

    /// Sends `body`; returns the HTTP status and the parsed JSON answer.
    pub async fn call(&self, body: Value) -> (u16, Value) {
        answer(self.send(body).await.unwrap()).await
    }

    pub async fn delete(&self, key: &str) -> (u16, Value) {
        self.call(json!({ "key": key })).await
    }
}

pub async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    (status, value)
}
