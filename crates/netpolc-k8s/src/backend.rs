//! The Kubernetes back end behind the [`netpolc_ir::backend::Backend`] interface.

use netpolc_ir::backend::{Backend, Capabilities, Compiled, Options, Reader};
use netpolc_ir::model::Evaluator;
use netpolc_ir::Program;
use serde_json::Value;

/// `networking.k8s.io/v1` NetworkPolicy, as a [`Backend`]. Reads [`crate::Options`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Kubernetes;

impl Backend for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn description(&self) -> &'static str {
        "networking.k8s.io/v1 NetworkPolicy"
    }

    fn compile(&self, program: &Program, options: &Options) -> Compiled {
        crate::compile(program, &options.get::<crate::Options>())
    }

    fn evaluator(&self, objects: &[Value]) -> Result<Box<dyn Evaluator>, String> {
        Ok(Box::new(crate::evaluator(objects)?))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        Box::new(crate::evaluate::ValidReader::default())
    }

    fn validate(&self, object: &Value) -> Vec<String> {
        crate::validate(object)
    }

    fn capabilities(&self) -> Capabilities {
        // Deny rules only where the deny subtraction is exact (`allow_only`).
        Capabilities::none()
    }
}
