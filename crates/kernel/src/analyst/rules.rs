//! The offline rules: plain instructions about `df` to pandas code that assigns `result`.

use super::Generated;

/// The rules. `Err` says why the instruction was not understood.
pub fn generate(instruction: &str, columns: &[String]) -> Result<Generated, String> {
    let text = instruction.trim();
    if text.is_empty() {
        return Err("the instruction is empty".into());
    }
    let lower = format!(" {} ", text.to_lowercase());
    let mentioned = mentions(&lower, columns);
    let rules = |code: String, summary: String| Generated {
        code,
        summary,
        author: "rules".into(),
    };
    if let Some((name, expr)) = computed_column(text, columns) {
        return Ok(rules(
            format!("df[{}] = {expr}\nresult = df", py_str(&name)),
            format!("Added the column {name}"),
        ));
    }
    let aggs = aggregations(&lower);
    if lower.contains("pivot") {
        return pivot(&lower, columns, &mentioned, &aggs).map(|(c, s)| rules(c, s));
    }
    let groups = after_keywords(&lower, columns, &[" by ", " per ", " for each ", " each "]);
    if !aggs.is_empty() && !groups.is_empty() {
        let values: Vec<&String> = mentioned.iter().filter(|c| !groups.contains(c)).collect();
        let g = py_list(&groups);
        let (code, summary) = if values.is_empty() {
            (
                format!("result = df.groupby({g}).size().reset_index(name='count')"),
                format!("Counted rows per {}", join(&groups)),
            )
        } else {
            let v = py_list(&values);
            let agg = if aggs.len() == 1 {
                py_str(aggs[0])
            } else {
                format!(
                    "[{}]",
                    aggs.iter()
                        .map(|a| py_str(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let code = if aggs.len() == 1 {
                format!("result = df.groupby({g})[{v}].agg({agg}).reset_index()")
            } else {
                format!(
                    "result = df.groupby({g})[{v}].agg({agg})\nresult.columns = ['_'.join(map(str, c)) for c in result.columns]\nresult = result.reset_index()"
                )
            };
            (
                code,
                format!(
                    "{} of {} per {}",
                    aggs.join(", "),
                    join(&values),
                    join(&groups)
                ),
            )
        };
        let mut code = code;
        if let Some((n, ascending)) = top_n(&lower) {
            code.push_str(&format!(
                "\nresult = result.sort_values(result.columns[-1], ascending={}).head({n})",
                py_bool(ascending)
            ));
        }
        return Ok(rules(code, summary));
    }
    if let Some(conditions) = filters(&lower, columns)? {
        let summary = format!("Filtered rows where {}", conditions.1);
        let mut code = format!("result = df[{}]", conditions.0);
        if let Some((n, ascending)) = top_n(&lower)
            && let Some(col) = mentioned.last()
        {
            code.push_str(&format!(
                "\nresult = result.sort_values({}, ascending={}).head({n})",
                py_str(col),
                py_bool(ascending)
            ));
        }
        return Ok(rules(code, summary));
    }
    let sorting = [
        "sort", "order by", "top ", "bottom ", "highest", "lowest", "largest", "smallest", "rank",
    ];
    if sorting.iter().any(|w| lower.contains(w)) {
        let by = after_keywords(&lower, columns, &[" by ", " on "]);
        let col = by.first().or(mentioned.last()).ok_or_else(|| {
            "sorting needs a column; none of the table's columns is named".to_owned()
        })?;
        let (n, ascending) =
            top_n(&lower).map_or((None, is_ascending(&lower)), |(n, a)| (Some(n), a));
        let mut code = format!(
            "result = df.sort_values({}, ascending={})",
            py_str(col),
            py_bool(ascending)
        );
        if let Some(n) = n {
            code.push_str(&format!(".head({n})"));
        }
        return Ok(rules(code, format!("Sorted by {col}")));
    }
    let describe = [
        "describe",
        "summary",
        "summarize",
        "summarise",
        "statistic",
        "stats",
        "overview",
        "profile",
    ];
    if describe.iter().any(|w| lower.contains(w)) || !aggs.is_empty() {
        if !aggs.is_empty() && !mentioned.is_empty() {
            let v = py_list(&mentioned);
            let a = format!(
                "[{}]",
                aggs.iter()
                    .map(|a| py_str(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(rules(
                format!(
                    "result = df[{v}].agg({a}).reset_index().rename(columns={{'index': 'statistic'}})"
                ),
                format!("{} of {}", aggs.join(", "), join(&mentioned)),
            ));
        }
        return Ok(rules(
            "result = df.describe(include='all').reset_index().rename(columns={'index': 'statistic'})"
                .into(),
            "Descriptive statistics of every column".into(),
        ));
    }
    Err(format!(
        "the offline analyst does not understand {text:?}; it can describe, filter, group and \
         aggregate, sort or take the top N, pivot, and add a computed column (configure a \
         language model for anything else)"
    ))
}

fn norm(s: &str) -> String {
    s.to_lowercase().replace(['_', '-'], " ")
}

/// Columns named in `lower`, in order of first appearance (longest names first when they
/// overlap).
fn mentions(lower: &str, columns: &[String]) -> Vec<String> {
    let spaced = norm(lower);
    let mut found: Vec<(usize, &String)> = Vec::new();
    let mut by_len: Vec<&String> = columns.iter().collect();
    by_len.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for col in by_len {
        let needle = norm(col);
        if needle.trim().is_empty() {
            continue;
        }
        let mut from = 0;
        while let Some(i) = spaced[from..].find(&needle) {
            let start = from + i;
            let end = start + needle.len();
            let bounded = !spaced[..start].ends_with(|c: char| c.is_alphanumeric())
                && !spaced[end..].starts_with(|c: char| c.is_alphanumeric());
            if bounded && !taken.iter().any(|&(s, e)| start < e && s < end) {
                taken.push((start, end));
                found.push((start, col));
                break;
            }
            from = end;
        }
    }
    found.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, c) in found {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// Columns named right after one of `keywords` (and lists joined by "and" or commas).
fn after_keywords(lower: &str, columns: &[String], keywords: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for kw in keywords {
        if let Some(i) = lower.find(kw) {
            let rest = &lower[i + kw.len()..];
            let clause: String = rest
                .split([';', '.'])
                .next()
                .unwrap_or_default()
                .split(" where ")
                .next()
                .unwrap_or_default()
                .to_owned();
            // Only the columns that start the clause: "by region and month" → both;
            // "by region, then sum revenue" → region.
            let mut clause_cols = Vec::new();
            let mut remaining = format!(" {} ", clause.trim());
            loop {
                let words = remaining.trim_start();
                let hit = mentions(&format!(" {words}"), columns)
                    .into_iter()
                    .find(|c| norm(words).starts_with(&norm(c)));
                let Some(col) = hit else { break };
                let cut = norm(&col).len().min(words.len());
                clause_cols.push(col);
                remaining = words[cut..]
                    .trim_start_matches([',', ' '])
                    .trim_start_matches("and ")
                    .to_owned();
            }
            for c in clause_cols {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

fn aggregations(lower: &str) -> Vec<&'static str> {
    let words: &[(&[&str], &str)] = &[
        (&[" sum", " total"], "sum"),
        (&[" mean", " average", " avg"], "mean"),
        (&[" median"], "median"),
        (&[" std", " standard deviation"], "std"),
        (&[" count", " how many", " number of"], "count"),
        (&[" max", " maximum", " highest value"], "max"),
        (&[" min", " minimum", " lowest value"], "min"),
    ];
    let mut found: Vec<(usize, &str)> = words
        .iter()
        .filter_map(|(ws, agg)| {
            ws.iter()
                .filter_map(|w| lower.find(w))
                .min()
                .map(|i| (i, *agg))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, a)| a).collect()
}

fn pivot(
    lower: &str,
    columns: &[String],
    mentioned: &[String],
    aggs: &[&str],
) -> Result<(String, String), String> {
    let index = after_keywords(lower, columns, &[" by ", " rows ", " index "]);
    let Some(index) = index.first() else {
        return Err(
            "a pivot needs its rows: say \"pivot <values> by <rows> and <columns>\"".into(),
        );
    };
    let rest: Vec<&String> = mentioned.iter().filter(|c| *c != index).collect();
    let after_index = lower
        .find(&norm(index))
        .map(|i| mentions(&lower[i..], columns))
        .unwrap_or_default();
    let across = after_index
        .iter()
        .find(|c| *c != index)
        .ok_or_else(|| "a pivot needs a column to spread across".to_owned())?;
    let values = rest
        .iter()
        .find(|c| **c != across)
        .ok_or_else(|| "a pivot needs a value column".to_owned())?;
    let agg = aggs.first().copied().unwrap_or("sum");
    Ok((
        format!(
            "result = df.pivot_table(index={}, columns={}, values={}, aggfunc={}).reset_index()\nresult.columns = [str(c) for c in result.columns]",
            py_str(index),
            py_str(across),
            py_str(values),
            py_str(agg)
        ),
        format!("Pivot of {agg} of {values} by {index} across {across}"),
    ))
}

fn top_n(lower: &str) -> Option<(u64, bool)> {
    for (word, ascending) in [
        ("top ", false),
        ("bottom ", true),
        ("first ", false),
        ("last ", true),
    ] {
        if let Some(i) = lower.find(word) {
            let n: String = lower[i + word.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = n.parse::<u64>() {
                return Some((n.min(100_000), ascending));
            }
        }
    }
    None
}

fn is_ascending(lower: &str) -> bool {
    !["desc", "highest", "largest", "most", "top", "decreasing"]
        .iter()
        .any(|w| lower.contains(w))
}

/// `df[...]` conditions for "where"/"filter" instructions; `Ok(None)` when none is asked.
fn filters(lower: &str, columns: &[String]) -> Result<Option<(String, String)>, String> {
    let markers = [" where ", " filter ", " only ", " rows with ", " with "];
    let Some(start) = markers
        .iter()
        .filter_map(|m| lower.find(m).map(|i| i + m.len()))
        .min()
    else {
        return Ok(None);
    };
    let clause = &lower[start..];
    let ops: &[(&str, &str)] = &[
        (">=", ">="),
        ("<=", "<="),
        ("!=", "!="),
        ("==", "=="),
        (" is not ", "!="),
        (" greater than or equal to ", ">="),
        (" less than or equal to ", "<="),
        (" at least ", ">="),
        (" at most ", "<="),
        (" greater than ", ">"),
        (" more than ", ">"),
        (" above ", ">"),
        (" over ", ">"),
        (" less than ", "<"),
        (" below ", "<"),
        (" under ", "<"),
        (" contains ", "contains"),
        (" equals ", "=="),
        (" is ", "=="),
        (">", ">"),
        ("<", "<"),
        ("=", "=="),
    ];
    let mut parts = Vec::new();
    let mut words = Vec::new();
    for cond in clause.split(" and ") {
        let cols = mentions(&format!(" {cond} "), columns);
        let Some(col) = cols.first() else { continue };
        let Some((op_text, op)) = ops.iter().find(|(t, _)| cond.contains(t)) else {
            continue;
        };
        let Some((_, raw_value)) = cond.split_once(op_text) else {
            continue;
        };
        let value = raw_value
            .trim()
            .trim_end_matches(['.', ';', ',', '?'])
            .trim_matches(['\'', '"']);
        if value.is_empty() {
            continue;
        }
        let original = value.to_owned();
        let literal = match value.parse::<f64>() {
            Ok(_) => value.to_owned(),
            Err(_) => py_str(&original),
        };
        let column = format!("df[{}]", py_str(col));
        parts.push(if *op == "contains" {
            format!(
                "({column}.astype(str).str.contains({}, case=False, regex=False))",
                py_str(&original)
            )
        } else if literal.starts_with('"') {
            // Text compares without regard to case.
            format!(
                "({column}.astype(str).str.lower() {op} {})",
                py_str(&original.to_lowercase())
            )
        } else {
            format!("(pd.to_numeric({column}, errors='coerce') {op} {literal})")
        });
        words.push(format!("{col} {op} {value}"));
    }
    if parts.is_empty() {
        if lower.contains(" where ") || lower.contains(" filter ") {
            return Err(
                "the filter names no condition the offline analyst understands (say \"where <column> > 100\")"
                    .into(),
            );
        }
        return Ok(None);
    }
    Ok(Some((parts.join(" & "), words.join(" and "))))
}

/// `add column <name> = <expression>` over columns, numbers and `+ - * / ( )`.
fn computed_column(text: &str, columns: &[String]) -> Option<(String, String)> {
    let lower = text.to_lowercase();
    let start = [
        "add a column ",
        "add column ",
        "new column ",
        "compute ",
        "calculate ",
        "create column ",
        "create a column ",
    ]
    .iter()
    .filter_map(|p| lower.find(p).map(|i| i + p.len()))
    .min()?;
    let rest = &text[start..];
    let (name, expr) = rest.split_once('=').or_else(|| rest.split_once(" as "))?;
    let name = name.trim().trim_matches(['"', '\'', '`']).trim();
    let name = name.strip_prefix("called ").unwrap_or(name).trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return None;
    }
    let mut out = String::new();
    let mut rest = expr.trim().trim_end_matches(['.', ';']);
    let mut used = false;
    while !rest.is_empty() {
        let c = rest.chars().next()?;
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if "+-*/()".contains(c) {
            out.push(c);
            out.push(' ');
            rest = &rest[1..];
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            n.parse::<f64>().ok()?;
            out.push_str(&n);
            out.push(' ');
            rest = &rest[n.len()..];
            continue;
        }
        // The longest column name at this point.
        let col = columns
            .iter()
            .filter(|col| rest.to_lowercase().starts_with(&col.to_lowercase()))
            .max_by_key(|c| c.len())?;
        out.push_str(&format!(
            "pd.to_numeric(df[{}], errors='coerce') ",
            py_str(col)
        ));
        rest = &rest[col.len()..];
        used = true;
    }
    used.then(|| (name.to_owned(), out.trim().to_owned()))
}

/// A Python string literal for `s` (JSON string syntax is valid Python).
pub fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| py_str(s.as_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn join<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cols() -> Vec<String> {
        ["region", "product", "revenue", "cost", "month"]
            .map(String::from)
            .to_vec()
    }

    fn code(instruction: &str) -> String {
        generate(instruction, &cols()).unwrap().code
    }

    #[test]
    fn understands_the_common_operations() {
        assert!(code("Describe the data").contains("df.describe"));
        assert_eq!(
            code("Total revenue by region"),
            "result = df.groupby([\"region\"])[[\"revenue\"]].agg(\"sum\").reset_index()"
        );
        assert!(
            code("average revenue per region and month")
                .contains("groupby([\"region\", \"month\"])")
        );
        assert!(
            code("top 3 products by revenue")
                .contains(".sort_values(\"revenue\", ascending=False).head(3)")
        );
        assert!(code("rows where revenue > 100 and region is West").contains(
            "(pd.to_numeric(df[\"revenue\"], errors='coerce') > 100) & (df[\"region\"].astype(str).str.lower() == \"west\")"
        ));
        let pivot = code("pivot revenue by region and month");
        assert!(
            pivot.contains(
                "index=\"region\", columns=\"month\", values=\"revenue\", aggfunc=\"sum\""
            ),
            "{pivot}"
        );
        assert!(code("add column margin = revenue - cost").starts_with(
            "df[\"margin\"] = pd.to_numeric(df[\"revenue\"], errors='coerce') - pd.to_numeric(df[\"cost\"], errors='coerce')"
        ));
        assert!(
            code("Calculate mean, median, and standard deviation of revenue")
                .contains("df[[\"revenue\"]].agg([\"mean\", \"median\", \"std\"])")
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(generate("train a neural network on this", &cols()).is_err());
        assert!(generate("", &cols()).is_err());
        // Expressions may only use columns, numbers and arithmetic.
        assert!(computed_column("add column x = __import__('os')", &cols()).is_none());
    }

    #[test]
    fn names_are_quoted_safely() {
        let c = vec!["we\"ird".to_owned()];
        let g = generate("sort by we\"ird", &c).unwrap();
        assert!(g.code.contains(r#""we\"ird""#), "{}", g.code);
    }
}
