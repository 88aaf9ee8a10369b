//! The Cilium back end behind the [`netpolc_ir::backend::Backend`] interface.

use netpolc_ir::backend::{is_network_policy, Backend, Capabilities, Compiled, Options, Reader};
use netpolc_ir::model::Evaluator;
use netpolc_ir::Program;
use serde_json::Value;

/// `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy, as a
/// [`Backend`]. Reads [`crate::Options`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Cilium;

impl Backend for Cilium {
    fn name(&self) -> &'static str {
        "cilium"
    }

    fn description(&self) -> &'static str {
        "cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy"
    }

    fn compile(&self, program: &Program, options: &Options) -> Compiled {
        crate::compile(program, &options.get::<crate::Options>())
    }

    fn evaluator(&self, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
        Ok(Box::new(crate::evaluator(objects)?))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        Box::new(crate::eval::ValidReader::default())
    }

    fn validate(&self, object: &Value) -> Vec<String> {
        crate::validate(object)
    }

    fn validate_doc(&self, object: &netpolc_ir::backend::Doc<'_>) -> Option<Vec<String>> {
        Some(crate::validate(object))
    }

    fn enforces(&self, object: &Value) -> bool {
        is_network_policy(object) || object["apiVersion"].as_str() == Some("cilium.io/v2")
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::none();
        c.deny = true;
        c.fqdn = true;
        c.http = true;
        c.host = true;
        c.api_server_entity = true;
        c.icmp = true;
        c.cluster_scoped_objects = true;
        c
    }
}
