//! The Calico back end behind the [`netpolc_ir::backend::Backend`] interface.

use netpolc_ir::backend::{is_network_policy, Backend, Capabilities, Compiled, Options, Reader};
use netpolc_ir::model::Evaluator;
use netpolc_ir::Program;
use serde_json::Value;

/// `projectcalico.org/v3` GlobalNetworkPolicy and Tier, as a [`Backend`]. Reads
/// [`crate::Options`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Calico;

impl Backend for Calico {
    fn name(&self) -> &'static str {
        "calico"
    }

    fn description(&self) -> &'static str {
        "projectcalico.org/v3 GlobalNetworkPolicy and Tier"
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

    fn enforces(&self, object: &Value) -> bool {
        let api = object["apiVersion"].as_str().unwrap_or("");
        is_network_policy(object)
            || api == "projectcalico.org/v3"
            || api == "crd.projectcalico.org/v1"
    }

    fn home_namespace(&self, object: &Value) -> Option<String> {
        crate::home_namespace(object)
    }

    fn is_prerequisite(&self, object: &Value) -> bool {
        object["kind"].as_str() == Some("Tier")
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::none();
        c.deny = true;
        c.icmp = true;
        c.cluster_scoped_objects = true;
        c
    }
}
