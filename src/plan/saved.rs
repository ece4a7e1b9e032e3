//! A plan saved by `plan --out FILE` and carried out by `apply --plan FILE`:
//! exactly those steps, and only while the inventory and the cluster are as
//! they were when it was made (a digest of the inventory file and a
//! fingerprint of the facts; see `Facts::fingerprint`).

use super::Plan;
use crate::facts::Facts;
use serde::{Deserialize, Serialize};

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: u32,
    /// SHA256 of the inventory file's text.
    pub inventory_sha256: String,
    pub facts_fingerprint: String,
    pub plan: Plan,
}

impl SavedPlan {
    pub fn new(inventory_sha256: String, facts: &Facts, plan: Plan) -> SavedPlan {
        SavedPlan {
            format: FORMAT,
            inventory_sha256,
            facts_fingerprint: facts.fingerprint(),
            plan,
        }
    }

    /// Why the saved plan may not be carried out now, if so.
    pub fn check(&self, inventory_sha256: &str, facts: &Facts) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "it was saved in format {} (this etcd-deploy reads {FORMAT})",
                self.format
            ));
        }
        if self.inventory_sha256 != inventory_sha256 {
            return Err("the inventory file changed since".into());
        }
        if self.facts_fingerprint != facts.fingerprint() {
            return Err("the hosts or the cluster changed since".into());
        }
        Ok(())
    }
}
