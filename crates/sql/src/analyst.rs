//! The offline analyst: deterministic, rule-based NL→SQL over any introspected schema.
//!
//! It reads a question as a handful of parts — a measure (count, sum, average, min, max,
//! revenue), a subject table, groupings (`by`, `per`, `each`, months, years), filters on
//! values it found in the data or on numbers, date ranges and a ranking (`top 5`) — and
//! joins tables only along foreign keys. Every word of the question must be accounted for
//! and every join must be safe for the measure; otherwise it says it does not understand,
//! rather than answer a different question.

mod lexicon;
mod plan;

use serde::{Deserialize, Serialize};

use crate::{schema::Schema, semantic::SemanticModel};

pub use lexicon::words;

/// What kind of answer a question asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// How many.
    Count,
    /// A sum, average, minimum or maximum.
    Aggregate,
    /// A measure per group.
    Breakdown,
    /// A measure per month or year.
    Trend,
    /// The first N by a measure.
    TopN,
    /// Rows.
    List,
}

impl Intent {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Aggregate => "aggregate",
            Self::Breakdown => "breakdown",
            Self::Trend => "trend",
            Self::TopN => "top_n",
            Self::List => "list",
        }
    }
}

/// A question the analyst understood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// The query.
    pub sql: String,
    /// What kind of answer it is.
    pub intent: Intent,
    /// What the query computes, in words (`number of customers in Berlin`).
    pub summary: String,
}

/// Why a question was not understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotUnderstood(pub String);

/// The advice given with every refusal.
pub const PROVIDER_HINT: &str = "For open-ended questions, configure a language model provider.";

/// The rule-based NL→SQL engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineAnalyst;

impl OfflineAnalyst {
    /// Turns `question` into SQL for `schema`, or says plainly why it cannot.
    pub fn analyse(
        &self,
        question: &str,
        schema: &Schema,
        semantic: &SemanticModel,
    ) -> Result<Analysis, NotUnderstood> {
        if question.len() > 2000 {
            return Err(NotUnderstood(format!(
                "That question is too long for the offline analyst. {PROVIDER_HINT}"
            )));
        }
        if schema.tables.is_empty() {
            return Err(NotUnderstood(
                "The database has no tables I can see.".to_owned(),
            ));
        }
        let lex = lexicon::Lexicon::new(schema, semantic);
        let parsed = lex.parse(question).map_err(|e| {
            NotUnderstood(format!(
                "I did not understand the question: {e}. {PROVIDER_HINT}"
            ))
        })?;
        plan::build(&parsed, schema, semantic).map_err(|e| {
            NotUnderstood(format!(
                "I cannot answer that reliably: {e}. {PROVIDER_HINT}"
            ))
        })
    }
}

/// What the offline analyst understands, for help messages.
pub const CAPABILITIES: &str = "I am quarry's offline analyst: I answer questions about the \
connected database without a language model. I understand counts (\"how many customers are \
there?\"), totals and averages (\"total revenue\", \"average price of products\"), minimum and \
maximum, breakdowns (\"orders by status\", \"revenue per category\"), rankings (\"top 5 \
products by revenue\", \"3 most expensive products\"), filters on values found in the data \
(\"customers in Berlin\", \"completed orders\"), numeric filters (\"products with price over \
100\"), date ranges (\"in 2025\", \"in March 2025\", \"since 2025-06-01\") and trends (\"orders \
per month in 2025\", \"revenue by year\"), joining tables along their foreign keys.";
