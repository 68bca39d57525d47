//! `forget sim`'s arguments and key files.

use std::time::Duration;

use clap::Parser;
use forget_sim::{self as sim, Fault, RateLimitShape, RetryAfter, RetryAfterStyle, SimArgs};

#[test]
fn load_profiles_reads_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    std::fs::write(&path, "\u{feff}# header\na@x\r\n\n  b@x  \n#c@x\n").unwrap();
    let path = path.to_str().unwrap();

    let (name, keys) = sim::load_profiles(path).unwrap();
    assert_eq!(name, "customers");
    assert_eq!(keys, ["a@x", "b@x"]);

    let (name, _) = sim::load_profiles(&format!("vip={path}")).unwrap();
    assert_eq!(name, "vip");
    assert!(sim::load_profiles("vip=/definitely/not/here").is_err());
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    sim: SimArgs,
}

#[test]
fn cli_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    std::fs::write(&path, "a\nb\n").unwrap();
    let profiles = format!("vip={}", path.display());

    let cli = Cli::try_parse_from([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--profiles",
        &profiles,
        "--token",
        "t",
        "--rate-limit",
        "2.5",
        "--retry-after",
        "4",
        "--retry-after-date",
        "--fault",
        "500=0.05",
        "--fault",
        "drop=0.01",
        "--latency-ms",
        "3",
        "--expire-token-after",
        "100",
        "--seed",
        "9",
    ])
    .unwrap();
    assert_eq!(cli.sim.listen_addr().unwrap().to_string(), "127.0.0.1:0");
    let cfg = cli.sim.to_config().unwrap();
    assert_eq!(cfg.token, "t");
    assert_eq!(
        cfg.profiles,
        vec![("vip".to_owned(), vec!["a".to_owned(), "b".to_owned()])]
    );
    assert_eq!(cfg.rate_limit, Some(2.5));
    assert_eq!(cfg.retry_after, RetryAfter::HttpDate(4));
    assert_eq!(
        cfg.faults,
        vec![(Fault::Http500, 0.05), (Fault::Drop, 0.01)]
    );
    assert_eq!(cfg.latency, Duration::from_millis(3));
    assert_eq!(cfg.expire_token_after, Some(100));
    assert_eq!(cfg.seed, 9);

    let remote = Cli::try_parse_from(["sim", "--listen", "0.0.0.0:8080"]).unwrap();
    assert!(remote.sim.listen_addr().is_err());
    let allowed =
        Cli::try_parse_from(["sim", "--listen", "0.0.0.0:8080", "--allow-remote"]).unwrap();
    assert!(allowed.sim.listen_addr().is_ok());
    let localhost = Cli::try_parse_from(["sim", "--listen", "localhost:9"]).unwrap();
    assert_eq!(
        localhost.sim.listen_addr().unwrap().to_string(),
        "127.0.0.1:9"
    );

    assert!(Cli::try_parse_from(["sim", "--fault", "bogus=0.1"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--fault", "500=1.5"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--rate-limit", "0"]).is_err());
    assert!(Cli::try_parse_from(["sim", "--retry-after-date"]).is_err());
    let too_many =
        Cli::try_parse_from(["sim", "--fault", "500=0.7", "--fault", "drop=0.7"]).unwrap();
    assert!(too_many.sim.to_config().is_err());
}

#[test]
fn rate_limit_flags() {
    let cli = Cli::try_parse_from([
        "sim",
        "--rate-limit",
        "200",
        "--rate-limit-shape",
        "sliding",
        "--rate-limit-counts-refused",
        "--rate-schedule",
        "0:200,20:100,40:200",
        "--background-rate",
        "50",
        "--retry-after",
        "auto",
        "--retry-after-reset",
    ])
    .unwrap();
    let cfg = cli.sim.to_config().unwrap();
    assert_eq!(cfg.rate_limit, Some(200.0));
    assert_eq!(cfg.rate_limit_shape, RateLimitShape::Sliding);
    assert!(cfg.rate_limit_counts_refused);
    assert_eq!(
        cfg.rate_schedule,
        [
            (Duration::ZERO, 200.0),
            (Duration::from_secs(20), 100.0),
            (Duration::from_secs(40), 200.0)
        ]
    );
    assert_eq!(cfg.background_rate, Some(50.0));
    assert_eq!(cfg.retry_after, RetryAfter::Auto(RetryAfterStyle::ResetAt));

    let config = |args: &[&str]| {
        let argv = std::iter::once("sim").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|c| c.sim.to_config())
    };
    // A schedule alone is a limit; the default shape is today's bucket.
    let cfg = config(&["--rate-schedule", "10:5", "--rate-burst", "2"]);
    let cfg = cfg.unwrap().unwrap();
    assert_eq!(cfg.rate_limit_shape, RateLimitShape::Bucket);
    assert_eq!(cfg.rate_burst, Some(2));
    let auto = config(&["--retry-after", "auto", "--retry-after-date"]);
    assert_eq!(
        auto.unwrap().unwrap().retry_after,
        RetryAfter::Auto(RetryAfterStyle::HttpDate)
    );
    // The limiter's flags need a limit; the burst sizes only a bucket.
    for flags in [
        &["--rate-burst", "5"][..],
        &["--rate-limit-shape", "fixed"],
        &["--rate-limit-counts-refused"],
        &["--background-rate", "3"],
        &[
            "--rate-limit",
            "5",
            "--rate-limit-shape",
            "fixed",
            "--rate-burst",
            "2",
        ],
    ] {
        assert!(matches!(config(flags), Ok(Err(_))), "{flags:?}");
    }
    for flags in [
        &["--rate-limit-shape", "leaky"][..],
        &["--rate-schedule", "20:100,10:50"],
        &["--rate-schedule", "5"],
        &["--background-rate", "0"],
        &["--retry-after", "soon"],
    ] {
        assert!(config(flags).is_err(), "{flags:?}");
    }
}
