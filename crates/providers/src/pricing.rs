//! What tokens cost: US dollars per million input and output tokens, by model-name prefix
//! (the longest matching prefix wins). The built-in table is overridable in `quarry.toml`
//! (`[llm.pricing."gpt-4o"] input = 2.5, output = 10.0`).

use serde::{Deserialize, Serialize};

/// The price of a model, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input (prompt) tokens.
    pub input: f64,
    /// Per million output (completion) tokens.
    pub output: f64,
}

/// Prices by model-name prefix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pricing {
    entries: Vec<(String, Price)>,
}

const BUILTIN: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("grok-4", 3.00, 15.00),
    ("grok-3-mini", 0.30, 0.50),
    ("grok-3", 3.00, 15.00),
    ("llama-3.3-70b", 0.59, 0.79),
    ("llama-3.1-8b", 0.05, 0.08),
    ("anthropic.claude-3-5-haiku", 0.80, 4.00),
    ("anthropic.claude-3-5-sonnet", 3.00, 15.00),
    ("anthropic.claude-sonnet-4", 3.00, 15.00),
    ("amazon.nova-pro", 0.80, 3.20),
    ("amazon.nova-lite", 0.06, 0.24),
];

impl Pricing {
    /// The built-in table (list prices; local models such as Ollama's cost nothing).
    pub fn builtin() -> Self {
        Self {
            entries: BUILTIN
                .iter()
                .map(|(m, i, o)| {
                    (
                        (*m).to_owned(),
                        Price {
                            input: *i,
                            output: *o,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Sets (or replaces) the price of models starting with `prefix`.
    pub fn set(&mut self, prefix: &str, price: Price) {
        match self.entries.iter_mut().find(|(p, _)| p == prefix) {
            Some(entry) => entry.1 = price,
            None => self.entries.push((prefix.to_owned(), price)),
        }
    }

    /// The price of `model`: the entry with the longest matching prefix. OpenRouter-style
    /// names (`openai/gpt-4o`) and regional Bedrock ids (`us.anthropic…`) match too.
    pub fn price(&self, model: &str) -> Option<Price> {
        let bare = model.rsplit('/').next().unwrap_or(model);
        let bare = ["us.", "eu.", "apac."]
            .iter()
            .find_map(|r| bare.strip_prefix(r))
            .unwrap_or(bare);
        self.entries
            .iter()
            .filter(|(p, _)| bare.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, price)| *price)
    }

    /// The cost of a call to `model`, in US dollars (0 for unpriced models).
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> f64 {
        self.price(model).map_or(0.0, |p| {
            (input_tokens as f64 * p.input + output_tokens as f64 * p.output) / 1_000_000.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_overrides_apply() {
        let mut p = Pricing::builtin();
        let mini = p.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000);
        assert!((mini - 0.75).abs() < 1e-9, "{mini}");
        assert!((p.cost("openai/gpt-4o", 1_000_000, 0) - 2.5).abs() < 1e-9);
        assert_eq!(p.cost("llama3.2", 1000, 1000), 0.0);
        p.set(
            "llama3",
            Price {
                input: 1.0,
                output: 1.0,
            },
        );
        assert!((p.cost("llama3.2", 1_000_000, 1_000_000) - 2.0).abs() < 1e-9);
    }
}
