//! `test`, `explain` and `eval`: the verification commands, on top of
//! `netpolc_driver::verify`.

use crate::cli::{EvalArgs, EvalFormat, ExplainArgs, ReportFormat, TestArgs};
use crate::{front_end, render_all, target_of, BAD_INPUT, FINDINGS};
use netpolc_driver::{dump, verify, Target};
use netpolc_ir::model::{ClusterModel, Endpoint, Evaluator, Flow, Verdict};
use netpolc_ir::{derive, Expect, PortSpec, TestEndpoint};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

fn targets_or_all(t: &[crate::cli::TargetArg]) -> Vec<Target> {
    if t.is_empty() {
        Target::ALL.to_vec()
    } else {
        t.iter().map(|t| target_of(*t)).collect()
    }
}

fn verdict_word(v: &Verdict) -> &'static str {
    if v.allowed() {
        "allow"
    } else {
        "deny"
    }
}

pub(crate) fn out(text: &str) -> ExitCode {
    let mut o = std::io::stdout().lock();
    if o.write_all(text.as_bytes())
        .and_then(|_| o.flush())
        .is_err()
    {
        return ExitCode::from(BAD_INPUT);
    }
    ExitCode::SUCCESS
}

struct Row {
    test: String,
    case: String,
    target: Target,
    expected: Expect,
    verdict: Verdict,
    /// The test's file and the case's line in it.
    file: String,
    line: Option<usize>,
    span: Option<netpolc_source::Span>,
    /// Time to evaluate the case, in seconds.
    seconds: f64,
}

/// `netpolc test`.
pub(crate) fn test(args: &TestArgs) -> ExitCode {
    let targets = targets_or_all(&args.targets);
    let (sources, program) = match front_end(&args.common) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let rendered = match render_all(&args.common, &sources, &program, &targets) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let mut model = derive::derive(&program);
    let placed = verify::place_tests(&mut model, &program.tests);
    let mut rows = Vec::new();
    for (target, objects) in &rendered {
        let eval = match verify::read_back(objects).and_then(|o| verify::evaluator(*target, &o)) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {target}: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        };
        for (t, cases) in program.tests.iter().zip(&placed) {
            for (c, (from, to)) in t.cases.iter().zip(cases) {
                let started = std::time::Instant::now();
                let verdict = eval.verdict(&model, &verify::test_flow(c, *from, *to));
                rows.push(Row {
                    test: t.name.clone(),
                    case: c.label.clone(),
                    target: *target,
                    expected: c.expect,
                    verdict,
                    file: t.file.clone(),
                    line: c.span.map(|s| sources.line_col(s).0),
                    span: c.span,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
        }
    }
    let failed = rows
        .iter()
        .filter(|r| !verify::meets(&r.verdict, r.expected))
        .count();
    let passed = rows.len() - failed;
    if crate::machine_format(args.common.diagnostics) {
        // Failed cases as diagnostics at the case, for annotations and code scanning.
        let diags: Vec<netpolc_source::Diagnostic> = rows
            .iter()
            .filter(|r| !verify::meets(&r.verdict, r.expected))
            .map(|r| {
                let message = format!(
                    "test `{}` fails on {}: {} expected {}, got {}",
                    r.test,
                    r.target,
                    r.case,
                    expect_word(r.expected),
                    verdict_word(&r.verdict)
                );
                let d = netpolc_source::Diagnostic::error("NP6004", message)
                    .with_note(format!("egress: {}", r.verdict.egress))
                    .with_note(format!("ingress: {}", r.verdict.ingress))
                    .with_target(r.target.name());
                match r.span {
                    Some(span) => d.with_label(span, "this case"),
                    None => d.with_file(r.file.clone()),
                }
            })
            .collect();
        crate::print_diagnostics(args.common.diagnostics, &sources, &diags);
    }
    let text = match args.format {
        ReportFormat::Text => {
            let mut s = String::new();
            for r in &rows {
                let ok = verify::meets(&r.verdict, r.expected);
                let _ = writeln!(
                    s,
                    "{} {} [{}] {}: {}",
                    if ok { "ok  " } else { "FAIL" },
                    r.test,
                    r.target,
                    r.case,
                    verdict_word(&r.verdict)
                );
                if !ok {
                    let _ = writeln!(
                        s,
                        "     expected {}, got {}",
                        expect_word(r.expected),
                        verdict_word(&r.verdict)
                    );
                    let _ = writeln!(s, "     egress:  {}", r.verdict.egress);
                    let _ = writeln!(s, "     ingress: {}", r.verdict.ingress);
                }
            }
            let _ = writeln!(s, "{passed} passed, {failed} failed");
            s
        }
        ReportFormat::Json => {
            let results: Vec<_> = rows
                .iter()
                .map(|r| json!({"test": r.test, "case": r.case, "target": r.target.name(), "expected": expect_word(r.expected), "actual": verdict_word(&r.verdict), "passed": verify::meets(&r.verdict, r.expected), "egress": r.verdict.egress.to_string(), "ingress": r.verdict.ingress.to_string()}))
                .collect();
            let mut s = serde_json::to_string_pretty(
                &json!({"passed": passed, "failed": failed, "results": results}),
            )
            .unwrap_or_default();
            s.push('\n');
            s
        }
        ReportFormat::Junit => junit(&rows),
    };
    let code = out(&text);
    if failed > 0 {
        return ExitCode::from(FINDINGS);
    }
    code
}

fn expect_word(e: Expect) -> &'static str {
    match e {
        Expect::Allow => "allow",
        Expect::Deny => "deny",
    }
}

/// The JUnit XML report (quick-junit): one suite per ConnectivityTest, one case per
/// (case, target) with the test's `file` and the case's `line` as attributes and the
/// time spent evaluating it.
fn junit(rows: &[Row]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suites: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        suites.entry(r.test.as_str()).or_default().push(r);
    }
    let mut report = Report::new("netpolc");
    for (name, rows) in suites {
        let mut suite = TestSuite::new(name);
        let mut total = std::time::Duration::ZERO;
        for r in rows {
            let status = if verify::meets(&r.verdict, r.expected) {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "expected {}, got {}",
                    expect_word(r.expected),
                    verdict_word(&r.verdict)
                ));
                s.set_description(format!(
                    "egress: {}\ningress: {}",
                    r.verdict.egress, r.verdict.ingress
                ));
                s
            };
            let mut case = TestCase::new(r.case.as_str(), status);
            case.set_classname(format!("{name}.{}", r.target));
            let time = std::time::Duration::from_secs_f64(r.seconds);
            total += time;
            case.set_time(time);
            case.extra.insert("file".into(), r.file.as_str().into());
            if let Some(l) = r.line {
                case.extra.insert("line".into(), l.to_string().into());
            }
            suite.add_test_case(case);
        }
        suite.set_time(total);
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

/// Parses `NS/k=v,k=v` or an IP address.
fn endpoint(text: &str) -> Result<TestEndpoint, String> {
    if let Ok(ip) = text.parse() {
        return Ok(TestEndpoint::Address(ip));
    }
    let (ns, labels) = text.split_once('/').ok_or_else(|| {
        format!("`{text}` is neither `NAMESPACE/KEY=VALUE,...` nor an IP address")
    })?;
    let mut map = BTreeMap::new();
    for kv in labels.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("`{kv}` in `{text}` is not KEY=VALUE"))?;
        map.insert(k.to_string(), v.to_string());
    }
    Ok(TestEndpoint::Pod {
        namespace: ns.to_string(),
        labels: map,
    })
}

/// `netpolc explain`.
pub(crate) fn explain(args: &ExplainArgs) -> ExitCode {
    let parsed = (|| {
        let from = endpoint(&args.from)?;
        let to = endpoint(&args.to)?;
        let port = netpolc_intent::parse_port(&args.port)?;
        match port.port {
            PortSpec::Range { start, end } if start == end => Ok((from, to, port.protocol, start)),
            _ => Err(format!(
                "`{}` is not a single port such as `8080/tcp`",
                args.port
            )),
        }
    })();
    let (from, to, protocol, port) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let (sources, program) = match front_end(&args.common) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let rendered = match render_all(&args.common, &sources, &program, &Target::ALL) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let mut model = derive::derive(&program);
    let case = netpolc_ir::TestCase {
        from,
        to,
        port: netpolc_ir::PortMatch::single(protocol, port),
        expect: Expect::Allow,
        span: None,
        label: String::new(),
    };
    let test = netpolc_ir::ConnectivityTest {
        name: String::new(),
        file: String::new(),
        cases: vec![case],
    };
    let placed = verify::place_tests(&mut model, std::slice::from_ref(&test));
    let (src, dst) = placed[0][0];
    let flow = Flow {
        src,
        dst,
        protocol,
        port,
    };
    let mut s = format!("{} -> {} {}/{}\n", args.from, args.to, port, protocol);
    // Say when an answer rests on labels nobody declared.
    let mut assumed: Vec<&str> = [&test.cases[0].from, &test.cases[0].to]
        .into_iter()
        .filter_map(|e| match e {
            TestEndpoint::Pod { namespace, .. } => Some(namespace.as_str()),
            TestEndpoint::Address(_) => None,
        })
        .filter(|ns| {
            !program.namespaces.contains_key(*ns)
                && !program.profile.unmanaged_namespaces.contains_key(*ns)
        })
        .collect();
    assumed.dedup();
    for ns in assumed {
        let _ = writeln!(
            s,
            "  assumption: namespace `{ns}` has no IntentSet and the ClusterProfile does not declare its labels (`spec.namespaces`); it is taken to have none"
        );
    }
    let intended = netpolc_ir::eval::intended(&program);
    side_lines(&mut s, "intended", &intended.verdict(&model, &flow));
    for (t, objects) in &rendered {
        match verify::read_back(objects).and_then(|o| verify::evaluator(*t, &o)) {
            Ok(e) => side_lines(&mut s, t.name(), &e.verdict(&model, &flow)),
            Err(e) => {
                eprintln!("error: {t}: {e}");
                return ExitCode::from(BAD_INPUT);
            }
        }
    }
    out(&s)
}

fn side_lines(s: &mut String, who: &str, v: &Verdict) {
    let _ = writeln!(s, "  {who:<10} {}", verdict_word(v));
    let _ = writeln!(s, "    egress:  {}", v.egress);
    let _ = writeln!(s, "    ingress: {}", v.ingress);
}

/// Which objects a backend enforces: its own kinds plus plain NetworkPolicies.
pub(crate) fn applies(target: Target, o: &serde_json::Value) -> bool {
    target.backend().enforces(o)
}

/// `netpolc eval`.
pub(crate) fn eval(args: &EvalArgs) -> ExitCode {
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(BAD_INPUT)
    };
    let limits = dump::DumpLimits::default();
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let mut manifests = match crate::import::objects_of(&args.manifests) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let cluster = match read(&args.cluster)
        .and_then(|b| dump::read(&args.cluster.display().to_string(), &b, &limits))
    {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut model = cluster.model;
    for n in &cluster.notes {
        eprintln!("note: {n}");
    }
    // Network sets in the dump are cluster state the Calico rules select.
    manifests.extend(cluster.network_sets);
    let known = [
        "networking.k8s.io/v1",
        "projectcalico.org/v3",
        "crd.projectcalico.org/v1",
        "cilium.io/v2",
    ];
    let ignored: Vec<String> = manifests
        .iter()
        .filter(|o| !known.contains(&o["apiVersion"].as_str().unwrap_or("")))
        .map(netpolc_driver::object_id)
        .collect();
    if !ignored.is_empty() {
        const SHOWN: usize = 10;
        let more = ignored.len().saturating_sub(SHOWN);
        eprintln!(
            "note: {} object(s) are not network policies: ignored ({}{})",
            ignored.len(),
            ignored[..ignored.len().min(SHOWN)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    model.ports = dump::ports(&manifests, &model);
    model.externals = dump::externals(&manifests, &model, &args.addresses);
    let targets = targets_or_all(&args.targets);
    let mut evals: Vec<(Target, Box<dyn Evaluator>)> = Vec::new();
    for t in &targets {
        let objs: Vec<_> = manifests
            .iter()
            .filter(|o| t.backend().enforces(o))
            .cloned()
            .collect();
        match verify::evaluator(*t, &objs) {
            Ok(e) => evals.push((*t, e)),
            Err(e) => return fail(format!("{t}: {e}")),
        }
    }
    drop(manifests);
    if !args.flows {
        let refs: Vec<&dyn Evaluator> = evals.iter().map(|(_, e)| e.as_ref()).collect();
        let map = netpolc_driver::connectivity::map(&model, &cluster.secondary_addresses, &refs);
        let text = match args.output {
            EvalFormat::Text => map.to_text(),
            EvalFormat::Json => {
                let mut s = serde_json::to_string_pretty(&map.to_json()).unwrap_or_default();
                s.push('\n');
                s
            }
        };
        return out(&text);
    }
    let flows: Vec<Flow> = model
        .flows()
        .into_iter()
        .filter(|f| f.src.is_pod() || f.dst.is_pod())
        .collect();
    let text = match args.output {
        EvalFormat::Text => {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "# {} flows; columns: {}",
                flows.len(),
                targets
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            for f in &flows {
                let verdicts: Vec<String> = evals
                    .iter()
                    .map(|(t, e)| format!("{}={}", t.name(), verdict_word(&e.verdict(&model, f))))
                    .collect();
                let _ = writeln!(s, "{}: {}", model.flow_name(f), verdicts.join(" "));
            }
            s
        }
        EvalFormat::Json => {
            let items: Vec<_> = flows
                .iter()
                .map(|f| {
                    let mut per = serde_json::Map::new();
                    for (t, e) in &evals {
                        let v = e.verdict(&model, f);
                        per.insert(t.name().into(), json!({"allowed": v.allowed(), "egress": v.egress.to_string(), "ingress": v.ingress.to_string()}));
                    }
                    json!({"from": name(&model, &f.src), "to": name(&model, &f.dst), "port": f.port, "protocol": f.protocol.as_str(), "verdicts": per})
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&items).unwrap_or_default();
            s.push('\n');
            s
        }
    };
    out(&text)
}

fn name(model: &ClusterModel, e: &Endpoint) -> String {
    model.endpoint_name(e)
}
