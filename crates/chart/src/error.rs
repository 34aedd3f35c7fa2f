//! What can go wrong when charting.

/// Why no chart could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// The input is not a table (not CSV with a header row, not a JSON array of row objects).
    #[error("not tabular data: {0}")]
    NotTabular(String),
    /// The table has no rows, or no values to plot.
    #[error("nothing to chart: {0}")]
    Empty(String),
    /// The input is over a fixed bound (rows, columns, bytes).
    #[error("too large to chart: {0}")]
    TooLarge(String),
    /// A spec names a column the table lacks, or asks for something the data cannot give.
    #[error("invalid chart spec: {0}")]
    InvalidSpec(String),
    /// The static renderer failed (a bug).
    #[error("rendering failed: {0}")]
    Render(String),
}
