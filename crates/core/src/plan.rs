//! Plans: numbered checklists the analyst writes and a human may approve.

use serde::{Deserialize, Serialize};

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// 1-based position.
    pub number: u32,
    /// What the step does.
    pub description: String,
    /// Whether it is done.
    pub completed: bool,
}

/// A plan, serialised in DSAgent's `PlanResponse` shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The steps in order.
    pub steps: Vec<PlanStep>,
    /// The text the plan was parsed from.
    pub raw_text: String,
    /// Number of steps.
    pub total_steps: u32,
    /// Number of completed steps.
    pub completed_steps: u32,
    /// True when every step is done.
    pub is_complete: bool,
}

impl Plan {
    /// Parses checklist text such as `1. [ ] Load data\n2. [x] Analyze`; lines that are not
    /// numbered steps are ignored. Counts are derived from the steps.
    pub fn parse(raw_text: &str) -> Self {
        let steps = raw_text
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                let (num, rest) = line.split_once('.')?;
                let number: u32 = num.trim().parse().ok()?;
                let rest = rest.trim_start();
                let (completed, description) = if let Some(d) = rest.strip_prefix("[ ]") {
                    (false, d)
                } else if let Some(d) = rest
                    .strip_prefix("[x]")
                    .or_else(|| rest.strip_prefix("[X]"))
                {
                    (true, d)
                } else {
                    (false, rest)
                };
                Some(PlanStep {
                    number,
                    description: description.trim().to_owned(),
                    completed,
                })
            })
            .collect();
        Self::from_steps(steps, raw_text.to_owned())
    }

    /// A plan from its steps, with the counts derived.
    pub fn from_steps(steps: Vec<PlanStep>, raw_text: String) -> Self {
        let total_steps = steps.len() as u32;
        let completed_steps = steps.iter().filter(|s| s.completed).count() as u32;
        Self {
            steps,
            raw_text,
            total_steps,
            completed_steps,
            is_complete: total_steps > 0 && completed_steps == total_steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dsagent_checklists() {
        let p = Plan::parse("1. [ ] Load data\n2. [x] Analyze\nnot a step\n3. [ ] Visualize");
        assert_eq!(p.total_steps, 3);
        assert_eq!(p.completed_steps, 1);
        assert!(!p.is_complete);
        assert_eq!(p.steps[1].description, "Analyze");
        assert!(p.steps[1].completed);
    }

    #[test]
    fn all_done_is_complete_and_empty_is_not() {
        assert!(Plan::parse("1. [x] a\n2. [X] b").is_complete);
        assert!(!Plan::parse("").is_complete);
    }
}
