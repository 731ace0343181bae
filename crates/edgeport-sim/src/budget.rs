//! Use-case budgets (from the domain guide) and the best variant per device against them.

use serde::{Deserialize, Serialize};

use crate::simulate::SimResult;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub id: &'static str,
    pub name: &'static str,
    pub latency_ms: f64,
    pub model_mb: f64,
    pub memory_mb: f64,
}

pub const BUDGETS: &[Budget] = &[
    Budget { id: "camera", name: "real-time camera", latency_ms: 33.0, model_mb: 10.0, memory_mb: 50.0 },
    Budget { id: "photo", name: "photo processing", latency_ms: 500.0, model_mb: 50.0, memory_mb: 200.0 },
    Budget { id: "text", name: "text classification", latency_ms: 50.0, model_mb: 5.0, memory_mb: 30.0 },
    Budget { id: "voice", name: "voice command", latency_ms: 100.0, model_mb: 20.0, memory_mb: 100.0 },
    Budget { id: "background", name: "background task", latency_ms: 5000.0, model_mb: 100.0, memory_mb: 500.0 },
];

pub fn by_id(id: &str) -> Option<&'static Budget> {
    BUDGETS.iter().find(|b| b.id == id)
}

/// How a result fares against a budget: empty `over` means it fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheck {
    pub budget: String,
    pub fits: bool,
    pub over: Vec<String>,
}

pub fn check(r: &SimResult, b: &Budget) -> BudgetCheck {
    let mut over = Vec::new();
    if r.latency_ms > b.latency_ms {
        over.push(format!("latency {:.1} ms > {} ms", r.latency_ms, b.latency_ms));
    }
    let model_mb = r.model_size_bytes as f64 / 1e6;
    if model_mb > b.model_mb {
        over.push(format!("model {model_mb:.1} MB > {} MB", b.model_mb));
    }
    let mem_mb = r.peak_memory_bytes as f64 / 1e6;
    if mem_mb > b.memory_mb {
        over.push(format!("memory {mem_mb:.1} MB > {} MB", b.memory_mb));
    }
    BudgetCheck { budget: b.id.to_string(), fits: over.is_empty(), over }
}

/// The best of one device's results: the fastest that fits `budget` (or the fastest overall
/// when none fits or no budget is given). Ties go to the smaller model.
pub fn best<'r>(results: &[&'r SimResult], budget: Option<&Budget>) -> Option<&'r SimResult> {
    let fits = |r: &SimResult| budget.is_none_or(|b| check(r, b).fits);
    let pick = |only_fitting: bool| {
        results
            .iter()
            .copied()
            .filter(|r| !only_fitting || fits(r))
            .min_by(|a, b| a.latency_ms.total_cmp(&b.latency_ms).then(a.model_size_bytes.cmp(&b.model_size_bytes)))
    };
    pick(true).or_else(|| pick(false))
}
