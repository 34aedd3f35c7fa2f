//! Reading a question: tokens, the schema's vocabulary (tables, columns, values found in the
//! data, semantic names) and the small grammar of measures, groupings, filters and dates.

use chrono::NaiveDate;

use crate::{schema::Schema, semantic::SemanticModel};

/// `(table, column)`.
pub(crate) type ColRef = (String, String);

/// Lower-case word tokens of `s` (letters, digits, `_`; dates and decimals kept whole).
pub fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let joins_digits = (c == '-' || c == '.')
            && cur.chars().last().is_some_and(|p| p.is_ascii_digit())
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || c == '_' || joins_digits {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A word's singular form (good enough for schema names).
pub(crate) fn singular(w: &str) -> String {
    if w.len() > 4 && w.ends_with("ies") {
        format!("{}y", &w[..w.len() - 3])
    } else if w.len() > 4
        && (w.ends_with("ches") || w.ends_with("shes") || w.ends_with("sses") || w.ends_with("xes"))
    {
        w[..w.len() - 2].to_owned()
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        w[..w.len() - 1].to_owned()
    } else {
        w.to_owned()
    }
}

/// The form names and words are compared in: singular, without a past-tense `-ed`.
pub(crate) fn stem(w: &str) -> String {
    let s = singular(w);
    if s.len() > 5 && s.ends_with("ed") && !s.ends_with("eed") {
        s[..s.len() - 2].to_owned()
    } else {
        s
    }
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agg {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// A comparison in a numeric filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

/// A time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bucket {
    Month,
    Year,
}

/// What a mention is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Subject or context.
    Plain,
    /// After `by`, `per`, `each`: a grouping.
    Group,
    /// After an aggregate word or a ranking `by`: the measure.
    Measure,
}

/// Something of the schema named in the question.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Mention {
    Table(String),
    /// Candidate columns (several tables may have a column of that name).
    Column(Vec<ColRef>),
    /// Revenue, sales, spend: a money measure.
    Money,
}

/// A parsed question.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed {
    pub agg: Option<Agg>,
    pub mentions: Vec<(Mention, Role)>,
    /// Values found in the data: candidates for one filter.
    pub values: Vec<Vec<(ColRef, String)>>,
    pub numeric: Vec<(Vec<ColRef>, Cmp, f64)>,
    pub bucket: Option<Bucket>,
    /// `[from, to)`.
    pub range: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Ranking: how many, largest first.
    pub top: Option<(usize, bool)>,
    /// `most <table>` / `fewest <table>`: count that table.
    pub count_of: Option<String>,
    /// Description words for the summary.
    pub text: String,
}

#[derive(Clone, Debug)]
enum Entry {
    Table(String),
    Column(ColRef),
    Value(ColRef, String),
}

/// The schema's vocabulary.
pub(crate) struct Lexicon {
    phrases: Vec<(Vec<String>, Entry)>,
}

const STOP: &[&str] = &[
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "there",
    "what",
    "which",
    "who",
    "whose",
    "how",
    "do",
    "does",
    "did",
    "me",
    "show",
    "list",
    "give",
    "get",
    "find",
    "tell",
    "display",
    "return",
    "all",
    "of",
    "in",
    "on",
    "for",
    "to",
    "with",
    "have",
    "has",
    "had",
    "we",
    "our",
    "us",
    "i",
    "my",
    "please",
    "that",
    "this",
    "those",
    "these",
    "and",
    "at",
    "as",
    "it",
    "its",
    "their",
    "they",
    "them",
    "data",
    "table",
    "row",
    "record",
    "entry",
    "entries",
    "overall",
    "altogether",
    "currently",
    "exist",
    "exists",
    "existing",
    "total",
    "number",
    "many",
    "much",
    "count",
    "each",
    "every",
    "per",
    "by",
    "from",
    "made",
    "placed",
    "whole",
    "database",
    "can",
    "you",
    "could",
    "would",
    "will",
    "about",
    "so",
    "far",
    "ever",
    "time",
    "all-time",
    "sum",
    "average",
    "avg",
    "mean",
    "top",
    "bottom",
    "most",
    "least",
    "highest",
    "lowest",
    "largest",
    "biggest",
    "smallest",
    "greatest",
    "maximum",
    "minimum",
    "max",
    "min",
    "over",
    "above",
    "under",
    "below",
    "than",
    "more",
    "less",
    "greater",
    "fewer",
    "fewest",
    "since",
    "after",
    "before",
    "until",
    "between",
    "during",
    "month",
    "monthly",
    "year",
    "yearly",
    "annual",
    "annually",
    "months",
    "years",
    "trend",
    "breakdown",
    "broken",
    "down",
    "split",
    "group",
    "grouped",
    "best",
    "worst",
    "first",
    "expensive",
    "cheapest",
    "priced",
    "costly",
    "s",
];

/// Words that change a question's meaning in ways the rules do not follow.
const UNSUPPORTED: &[&str] = &[
    "not",
    "no",
    "without",
    "except",
    "excluding",
    "never",
    "or",
    "neither",
    "nor",
    "why",
    "predict",
    "forecast",
    "compare",
    "versus",
    "vs",
    "correlation",
    "median",
    "percent",
    "percentage",
    "ratio",
    "growth",
    "change",
    "difference",
    "previous",
    "next",
    "last",
    "ago",
    "today",
    "yesterday",
    "week",
    "weekly",
    "quarter",
    "day",
    "daily",
    "distinct",
    "unique",
];

const MONEY: &[&str] = &[
    "value", "revenue", "sales", "turnover", "spend", "spent", "spending", "income", "earnings",
];

const AGG_WORDS: &[&str] = &[
    "total", "sum", "average", "avg", "mean", "maximum", "max", "minimum", "min", "count",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_of(w: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() == 3 && m.starts_with(w) && w != "may"))
        .or_else(|| (w == "may").then_some(4))
        .map(|i| i as u32 + 1)
}

fn split_name(name: &str) -> Vec<String> {
    name.split(|c: char| c == '_' || c.is_whitespace() || c == '-')
        .filter(|s| !s.is_empty())
        .map(|s| stem(&s.to_lowercase()))
        .collect()
}

impl Lexicon {
    pub(crate) fn new(schema: &Schema, semantic: &SemanticModel) -> Self {
        let mut phrases: Vec<(Vec<String>, Entry)> = Vec::new();
        for t in &schema.tables {
            let mut names = vec![t.name.clone()];
            names.extend(semantic.table_aliases(&t.name));
            for n in names {
                let parts = split_name(&n);
                if parts.is_empty() {
                    continue;
                }
                phrases.push((parts.clone(), Entry::Table(t.name.clone())));
                if parts.len() > 1
                    && let Some(last) = parts.last()
                {
                    phrases.push((vec![last.clone()], Entry::Table(t.name.clone())));
                }
            }
            for c in &t.columns {
                let lower = c.name.to_lowercase();
                let is_key = lower == "id" || lower.ends_with("_id");
                if !is_key {
                    let mut names = vec![c.name.clone()];
                    names.extend(semantic.column_aliases(&t.name, &c.name));
                    for n in names {
                        let parts = split_name(&n);
                        for start in 0..parts.len() {
                            phrases.push((
                                parts[start..].to_vec(),
                                Entry::Column((t.name.clone(), c.name.clone())),
                            ));
                        }
                    }
                }
                for v in &c.sample_values {
                    let parts = words(v);
                    if !parts.is_empty() && parts.len() <= 4 {
                        phrases.push((
                            parts,
                            Entry::Value((t.name.clone(), c.name.clone()), v.clone()),
                        ));
                    }
                }
            }
        }
        for m in &semantic.value_mappings {
            if schema
                .table(&m.table)
                .and_then(|t| t.column(&m.column))
                .is_some()
            {
                phrases.push((
                    words(&m.term),
                    Entry::Value((m.table.clone(), m.column.clone()), m.value.clone()),
                ));
            }
        }
        Self { phrases }
    }

    /// The longest phrases starting at `i`: their length and entries.
    fn lookup(&self, toks: &[String], sing: &[String], i: usize) -> (usize, Vec<&Entry>) {
        let mut best = 0;
        let mut found: Vec<&Entry> = Vec::new();
        for (p, e) in &self.phrases {
            let n = p.len();
            if n == 0 || i + n > toks.len() || n < best {
                continue;
            }
            let hit = match e {
                Entry::Value(..) => p
                    .iter()
                    .zip(toks[i..i + n].iter().zip(&sing[i..i + n]))
                    .all(|(a, (t, s))| a == t || singular(a) == *s),
                _ => p.iter().zip(&sing[i..i + n]).all(|(a, b)| a == b),
            };
            if hit {
                if n > best {
                    best = n;
                    found.clear();
                }
                found.push(e);
            }
        }
        (best, found)
    }

    pub(crate) fn parse(&self, question: &str) -> Result<Parsed, String> {
        let toks = words(question);
        if toks.is_empty() {
            return Err("the question is empty".into());
        }
        let sing: Vec<String> = toks.iter().map(|t| stem(t)).collect();
        let mut p = Parsed {
            text: question.trim().trim_end_matches('?').to_owned(),
            ..Parsed::default()
        };
        let mut unknown: Vec<String> = Vec::new();
        let mut role = Role::Plain;
        let mut pending_cmp: Option<Cmp> = None;
        let mut pending_range: Option<&str> = None;
        let mut pending_rank: Option<bool> = None;
        let mut i = 0;
        while i < toks.len() {
            let w = toks[i].as_str();
            let next = toks.get(i + 1).map(String::as_str);
            // Multi-word keywords first.
            match (w, next) {
                ("how", Some("many")) | ("number", Some("of")) => {
                    p.agg = Some(Agg::Count);
                    role = Role::Plain;
                    i += 2;
                    continue;
                }
                ("for", Some("each" | "every")) | ("broken", Some("down")) => {
                    role = Role::Group;
                    i += 2;
                    continue;
                }
                ("more" | "greater" | "higher", Some("than")) => {
                    pending_cmp = Some(Cmp::Gt);
                    i += 2;
                    continue;
                }
                ("less" | "fewer" | "lower", Some("than")) => {
                    pending_cmp = Some(Cmp::Lt);
                    i += 2;
                    continue;
                }
                ("at", Some("least")) => {
                    pending_cmp = Some(Cmp::Ge);
                    i += 2;
                    continue;
                }
                ("at", Some("most")) => {
                    pending_cmp = Some(Cmp::Le);
                    i += 2;
                    continue;
                }
                _ => {}
            }
            if UNSUPPORTED.contains(&w) {
                return Err(format!("I cannot handle \"{w}\" without a language model"));
            }
            // Numbers, dates, months.
            if let Ok(n) = w.parse::<f64>() {
                let year = (w.len() == 4 && (1900.0..2200.0).contains(&n)).then_some(n as i32);
                if let Some(cmp) = pending_cmp.take() {
                    let col = p.mentions.iter().rev().find_map(|(m, _)| match m {
                        Mention::Column(c) => Some(c.clone()),
                        _ => None,
                    });
                    let Some(col) = col else {
                        return Err(format!("I do not know which column to compare with {w}"));
                    };
                    p.mentions
                        .retain(|(m, _)| !matches!(m, Mention::Column(c) if *c == col));
                    p.numeric.push((col, cmp, n));
                } else if matches!(
                    i.checked_sub(1).map(|j| toks[j].as_str()),
                    Some("top" | "bottom" | "first")
                ) || matches!(
                    next,
                    Some(
                        "most"
                            | "least"
                            | "highest"
                            | "lowest"
                            | "largest"
                            | "biggest"
                            | "smallest"
                            | "cheapest"
                            | "best"
                            | "worst"
                            | "fewest"
                    )
                ) {
                    if n.fract() != 0.0 || !(1.0..=1000.0).contains(&n) {
                        return Err(format!("{w} is not a usable number of rows"));
                    }
                    let desc =
                        !matches!(i.checked_sub(1).map(|j| toks[j].as_str()), Some("bottom"));
                    p.top = Some((n as usize, desc));
                } else if let Some(y) = year {
                    let from = NaiveDate::from_ymd_opt(y, 1, 1);
                    let to = NaiveDate::from_ymd_opt(y + 1, 1, 1);
                    p.range = Some(merge_range(pending_range.take(), from, to, p.range)?);
                } else {
                    return Err(format!("I do not know what the number {w} refers to"));
                }
                i += 1;
                continue;
            }
            if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
                let how = pending_range.take();
                let how = if how.is_none() && p.range.is_none() {
                    Some("on")
                } else {
                    how
                };
                p.range = Some(merge_range(how, Some(d), d.succ_opt(), p.range)?);
                i += 1;
                continue;
            }
            if let Some(m) = month_of(w) {
                let year = next
                    .and_then(|n| n.parse::<i32>().ok())
                    .filter(|y| (1900..2200).contains(y));
                if let Some(y) = year {
                    let from = NaiveDate::from_ymd_opt(y, m, 1);
                    let to = if m == 12 {
                        NaiveDate::from_ymd_opt(y + 1, 1, 1)
                    } else {
                        NaiveDate::from_ymd_opt(y, m + 1, 1)
                    };
                    p.range = Some(merge_range(pending_range.take(), from, to, p.range)?);
                    i += 2;
                    continue;
                }
                if w != "may" {
                    return Err(format!("\"{w}\" needs a year"));
                }
            }
            // Schema vocabulary (an aggregate word names a column only right after another one:
            // "average total").
            let after_agg = i
                .checked_sub(1)
                .is_some_and(|j| AGG_WORDS.contains(&toks[j].as_str()));
            let (len, entries) = if AGG_WORDS.contains(&w) && !after_agg {
                (0, Vec::new())
            } else {
                self.lookup(&toks, &sing, i)
            };
            if len > 0 {
                let tables: Vec<&String> = entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Table(t) => Some(t),
                        _ => None,
                    })
                    .collect();
                let cols: Vec<ColRef> = entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Column(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect();
                let vals: Vec<(ColRef, String)> = entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Value(c, v) => Some((c.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                if let Some(t) = tables.first() {
                    if tables.len() > 1 {
                        return Err(format!(
                            "\"{}\" could mean several tables",
                            toks[i..i + len].join(" ")
                        ));
                    }
                    if let Some(desc) = pending_rank.take() {
                        if p.count_of.is_none()
                            && matches!(
                                i.checked_sub(1).map(|j| toks[j].as_str()),
                                Some("most" | "fewest" | "least")
                            )
                        {
                            p.count_of = Some((*t).clone());
                            p.top = Some((p.top.map_or(1, |t| t.0), desc));
                            role = Role::Plain;
                            i += len;
                            continue;
                        }
                        pending_rank = Some(desc);
                    }
                    let role = if role == Role::Measure {
                        Role::Plain
                    } else {
                        role
                    };
                    p.mentions.push((Mention::Table((*t).clone()), role));
                } else if !cols.is_empty() {
                    p.mentions.push((Mention::Column(cols), role));
                } else {
                    p.values.push(vals);
                }
                if role == Role::Group || role == Role::Measure {
                    role = Role::Plain;
                }
                i += len;
                continue;
            }
            match w {
                "count" => p.agg = Some(Agg::Count),
                "total" | "sum" => {
                    if p.agg.is_none() {
                        p.agg = Some(Agg::Sum);
                    }
                    role = Role::Measure;
                }
                "average" | "avg" | "mean" => {
                    p.agg = Some(Agg::Avg);
                    role = Role::Measure;
                }
                "maximum" | "max" => {
                    p.agg = Some(Agg::Max);
                    role = Role::Measure;
                }
                "minimum" | "min" => {
                    p.agg = Some(Agg::Min);
                    role = Role::Measure;
                }
                "by" | "per" | "each" | "every" => {
                    role = if p.top.is_some() || pending_rank.is_some() {
                        Role::Measure
                    } else {
                        Role::Group
                    };
                    // "by month", "per year".
                    match next {
                        Some("month" | "months") => {
                            p.bucket = Some(Bucket::Month);
                            role = Role::Plain;
                            i += 1;
                        }
                        Some("year" | "years") => {
                            p.bucket = Some(Bucket::Year);
                            role = Role::Plain;
                            i += 1;
                        }
                        _ => {}
                    }
                }
                "monthly" => p.bucket = Some(Bucket::Month),
                "yearly" | "annual" | "annually" => p.bucket = Some(Bucket::Year),
                "top" | "best" | "highest" | "largest" | "biggest" | "greatest" | "most" => {
                    pending_rank = Some(true);
                    if p.top.is_none() {
                        p.top = Some((if w == "top" { 10 } else { 1 }, true));
                    }
                    if w != "top" {
                        role = Role::Measure;
                    }
                }
                "bottom" | "worst" | "lowest" | "smallest" | "least" | "fewest" => {
                    pending_rank = Some(false);
                    p.top = Some((
                        p.top.map_or(if w == "bottom" { 10 } else { 1 }, |t| t.0),
                        false,
                    ));
                    if w != "bottom" {
                        role = Role::Measure;
                    }
                }
                "expensive" | "costly" | "cheapest" => {
                    let desc = w != "cheapest";
                    p.top = Some((p.top.map_or(1, |t| t.0), desc));
                    pending_rank = Some(desc);
                    p.mentions
                        .push((Mention::Column(Vec::new()), Role::Measure));
                    role = Role::Plain;
                }
                "over" | "above" => pending_cmp = Some(Cmp::Gt),
                "under" | "below" => pending_cmp = Some(Cmp::Lt),
                "since" | "after" | "from" if matches!(next, Some(n) if n.starts_with(|c: char| c.is_ascii_digit()) || month_of(n).is_some()) =>
                {
                    pending_range = Some(if w == "after" { "after" } else { "since" });
                }
                "before" | "until" => pending_range = Some("before"),
                "between" => pending_range = Some("between"),
                _ if MONEY.contains(&w) => {
                    p.mentions.push((
                        Mention::Money,
                        if pending_rank.is_some() {
                            Role::Measure
                        } else {
                            role
                        },
                    ));
                    role = Role::Plain;
                }
                _ if STOP.contains(&w) || STOP.contains(&sing[i].as_str()) => {}
                _ => unknown.push(w.to_owned()),
            }
            i += 1;
        }
        if role == Role::Group {
            return Err("the question ends before saying what to group by".into());
        }
        if pending_cmp.is_some() {
            return Err("a comparison is missing its number".into());
        }
        if !unknown.is_empty() {
            return Err(format!(
                "I do not know what {} refer{} to in this database",
                unknown
                    .iter()
                    .map(|u| format!("\"{u}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unknown.len() == 1 { "s" } else { "" }
            ));
        }
        Ok(p)
    }
}

type Range = (Option<NaiveDate>, Option<NaiveDate>);

fn merge_range(
    how: Option<&str>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    prev: Option<Range>,
) -> Result<Range, String> {
    Ok(match (how, prev) {
        (Some("since"), _) => (from, prev.and_then(|p| p.1)),
        (Some("after"), _) => (to, prev.and_then(|p| p.1)),
        (Some("before"), _) => (prev.and_then(|p| p.0), from),
        (Some("between"), _) => (from, to),
        // "between X and Y": the second date closes the range.
        (None, Some((Some(a), Some(_)))) if from.is_some_and(|f| f > a) => (Some(a), to),
        (_, None) | (Some("on"), _) => (from, to),
        (None, Some(_)) => return Err("the question names two date ranges".into()),
        (Some(_), _) => (from, to),
    })
}
