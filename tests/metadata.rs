//! `block-cloud-metadata` denies every cloud instance-metadata address, IPv4 and IPv6, on
//! every back end, even where the same pods may reach the rest of the Internet (`world`
//! renders `0.0.0.0/0` and `::/0`).

use crate::util::{compile, render, root};
use netpolc_driver::{verify, Target};
use netpolc_ir::model::{Endpoint, Flow};
use netpolc_ir::{derive, Protocol};
use std::net::IpAddr;

/// The documented addresses (docs/intent-language.md), written out here rather than read
/// from the constant, so that dropping one from the preset fails this test.
const DOCUMENTED: [&str; 5] = [
    "169.254.169.254",
    "100.100.100.200",
    "fd00:ec2::254",
    "fd20:ce::254",
    "fd00:c1::a9fe:a9fe",
];

#[test]
fn block_cloud_metadata_denies_every_documented_address_on_every_backend() {
    let preset: Vec<IpAddr> = netpolc_intent::METADATA_CIDRS
        .iter()
        .map(|c| c.split('/').next().unwrap().parse().unwrap())
        .collect();
    for a in DOCUMENTED {
        let a: IpAddr = a.parse().unwrap();
        assert!(preset.contains(&a), "{a} is not in METADATA_CIDRS");
    }
    let case = root().join("tests/cases/valid/block-metadata-with-world.yaml");
    let (sources, program, diags) = compile(&[case]);
    let program = program.unwrap_or_else(|| panic!("{diags}"));
    let model = derive::derive(&program);
    let web = model
        .pods
        .iter()
        .position(|p| {
            p.namespace == "shop" && p.labels.get("app").map(String::as_str) == Some("web")
        })
        .expect("a web pod");
    let flow = |dst: IpAddr| Flow {
        src: Endpoint::Pod(web),
        dst: Endpoint::External(dst),
        protocol: Protocol::Tcp,
        port: 443,
    };
    for t in Target::ALL {
        let objects = render(&sources, &program, t).unwrap();
        let text = serde_json::to_string(&objects).unwrap();
        let eval = verify::evaluator(t, &verify::round_trip(&objects).unwrap()).unwrap();
        // The intent allows the Internet on 443, over both address families.
        for other in ["203.0.113.7", "2001:db8::7"] {
            let v = eval.verdict(&model, &flow(other.parse().unwrap()));
            assert!(v.allowed(), "{t}: web -> {other} is denied: {}", v.egress);
        }
        for a in DOCUMENTED {
            let v = eval.verdict(&model, &flow(a.parse().unwrap()));
            assert!(
                !v.allowed(),
                "{t}: web reaches metadata address {a}: {}",
                v.egress
            );
            let cidr = if a.contains(':') {
                format!("{a}/128")
            } else {
                format!("{a}/32")
            };
            assert!(text.contains(&cidr), "{t}: {cidr} not in the output");
        }
    }
}
