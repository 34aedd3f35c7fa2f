//! From a parsed question to SQL: pick the measure and the table it lives in, join the
//! tables the question needs along foreign keys (never in a direction that would count a
//! row twice for a sum or an average), then filter, group, order and limit.

use std::collections::{BTreeMap, VecDeque};

use chrono::NaiveDate;

use super::{
    Analysis, Intent,
    lexicon::{Agg, Bucket, ColRef, Mention, Parsed, Role, singular, stem},
};
use crate::{
    Engine,
    schema::{Schema, Table, quote_ident, quote_literal},
    semantic::SemanticModel,
};

const MONEY_COLUMNS: &[&str] = &[
    "revenue",
    "sales",
    "amount",
    "total",
    "total_amount",
    "total_price",
    "grand_total",
    "subtotal",
    "line_total",
    "price_total",
    "value",
];
const QUANTITY_COLUMNS: &[&str] = &["quantity", "qty", "units", "quantity_sold"];
const PRICE_COLUMNS: &[&str] = &["unit_price", "price", "unit_cost", "price_each"];

#[derive(Clone, Debug, PartialEq)]
enum Measure {
    /// Rows of a table.
    Count(String),
    /// An aggregate of an expression over a table.
    Agg {
        agg: Agg,
        table: String,
        expr: String,
        label: String,
    },
    /// A plain column used for ordering rows.
    Column(ColRef),
}

#[derive(Clone, Debug)]
struct Edge {
    to: String,
    on: Vec<(ColRef, ColRef)>,
    forward: bool,
}

fn edges(schema: &Schema, semantic: &SemanticModel) -> BTreeMap<String, Vec<Edge>> {
    let mut g: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    let mut add = |from: &str, to: &str, on: Vec<(ColRef, ColRef)>| {
        let back = on.iter().map(|(a, b)| (b.clone(), a.clone())).collect();
        g.entry(from.to_owned()).or_default().push(Edge {
            to: to.to_owned(),
            on,
            forward: true,
        });
        g.entry(to.to_owned()).or_default().push(Edge {
            to: from.to_owned(),
            on: back,
            forward: false,
        });
    };
    for t in &schema.tables {
        for f in &t.foreign_keys {
            let on = f
                .columns
                .iter()
                .zip(&f.ref_columns)
                .map(|(a, b)| {
                    (
                        (t.name.clone(), a.clone()),
                        (f.ref_table.clone(), b.clone()),
                    )
                })
                .collect();
            add(&t.name, &f.ref_table, on);
        }
    }
    for h in &semantic.join_hints {
        if let Some(((lt, lc), (rt, rc))) = h.sides()
            && schema.table(lt).is_some()
            && schema.table(rt).is_some()
        {
            add(
                lt,
                rt,
                vec![(
                    (lt.to_owned(), lc.to_owned()),
                    (rt.to_owned(), rc.to_owned()),
                )],
            );
        }
    }
    g
}

/// Shortest join tree from `base`: for each reached table, the edge that reached it.
fn reach(
    g: &BTreeMap<String, Vec<Edge>>,
    base: &str,
    backward: bool,
) -> BTreeMap<String, Option<(String, Edge)>> {
    let mut seen: BTreeMap<String, Option<(String, Edge)>> = BTreeMap::new();
    seen.insert(base.to_owned(), None);
    let mut queue = VecDeque::from([base.to_owned()]);
    while let Some(t) = queue.pop_front() {
        for e in g.get(&t).into_iter().flatten() {
            if (e.forward || backward) && !seen.contains_key(&e.to) {
                seen.insert(e.to.clone(), Some((t.clone(), e.clone())));
                queue.push_back(e.to.clone());
            }
        }
    }
    seen
}

fn depth(tree: &BTreeMap<String, Option<(String, Edge)>>, t: &str) -> usize {
    let mut d = 0;
    let mut cur = t.to_owned();
    while let Some(Some((parent, _))) = tree.get(&cur) {
        d += 1;
        cur = parent.clone();
    }
    d
}

struct Sql {
    engine: Engine,
}

impl Sql {
    fn col(&self, (t, c): &ColRef) -> String {
        format!(
            "{}.{}",
            quote_ident(self.engine, t),
            quote_ident(self.engine, c)
        )
    }
    fn ident(&self, s: &str) -> String {
        quote_ident(self.engine, s)
    }
    fn bucket(&self, col: &str, b: Bucket) -> String {
        match (self.engine, b) {
            (Engine::Sqlite, Bucket::Month) => format!("strftime('%Y-%m', {col})"),
            (Engine::Sqlite, Bucket::Year) => format!("strftime('%Y', {col})"),
            (Engine::Postgres, Bucket::Month) => format!("to_char(CAST({col} AS date), 'YYYY-MM')"),
            (Engine::Postgres, Bucket::Year) => format!("to_char(CAST({col} AS date), 'YYYY')"),
            (Engine::Mysql, Bucket::Month) => format!("DATE_FORMAT({col}, '%Y-%m')"),
            (Engine::Mysql, Bucket::Year) => format!("DATE_FORMAT({col}, '%Y')"),
        }
    }
}

fn label_column(t: &Table) -> String {
    let names = ["name", "title", "label", "full_name", "display_name"];
    t.columns
        .iter()
        .find(|c| names.contains(&c.name.to_lowercase().as_str()))
        .or_else(|| {
            t.columns
                .iter()
                .find(|c| c.name.to_lowercase().ends_with("_name"))
        })
        .or_else(|| {
            t.columns
                .iter()
                .find(|c| c.is_text() && !c.name.to_lowercase().ends_with("_id"))
        })
        .or_else(|| t.primary_key.first().and_then(|pk| t.column(pk)))
        .or_else(|| t.columns.first())
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

fn date_column(t: &Table) -> Option<String> {
    let s = singular(&t.name.to_lowercase());
    let temporal: Vec<&crate::schema::Column> =
        t.columns.iter().filter(|c| c.is_temporal()).collect();
    temporal
        .iter()
        .find(|c| c.name.to_lowercase().contains(&s))
        .or_else(|| {
            temporal
                .iter()
                .find(|c| c.name.to_lowercase().contains("date"))
        })
        .or_else(|| temporal.first())
        .map(|c| c.name.clone())
}

fn date_lit(d: NaiveDate) -> String {
    quote_literal(&d.format("%Y-%m-%d").to_string())
}

pub(crate) fn build(
    p: &Parsed,
    schema: &Schema,
    semantic: &SemanticModel,
) -> Result<Analysis, String> {
    let sql = Sql {
        engine: schema.engine,
    };
    let tables: Vec<(&str, Role)> = p
        .mentions
        .iter()
        .filter_map(|(m, r)| match m {
            Mention::Table(t) => Some((t.as_str(), *r)),
            _ => None,
        })
        .collect();
    let mentioned: Vec<&str> = tables.iter().map(|(t, _)| *t).collect();
    let subject: Option<String> = tables
        .iter()
        .find(|(t, r)| *r == Role::Plain && p.count_of.as_deref() != Some(*t))
        .map(|(t, _)| (*t).to_owned());

    // Resolve column mentions to one column each.
    let mut columns: Vec<(ColRef, Role)> = Vec::new();
    let mut price_marker = false;
    for (m, r) in &p.mentions {
        if let Mention::Column(cands) = m {
            if cands.is_empty() {
                price_marker = true;
                continue;
            }
            let pick: Vec<&ColRef> = if cands.len() == 1 {
                cands.iter().collect()
            } else {
                let in_mentioned: Vec<&ColRef> = cands
                    .iter()
                    .filter(|(t, _)| mentioned.contains(&t.as_str()))
                    .collect();
                if in_mentioned.is_empty() {
                    cands.iter().collect()
                } else {
                    in_mentioned
                }
            };
            match pick.as_slice() {
                [one] => columns.push(((*one).clone(), *r)),
                _ => {
                    return Err(format!(
                        "\"{}\" is a column of several tables ({})",
                        cands[0].1,
                        cands
                            .iter()
                            .map(|(t, _)| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }
    if price_marker {
        let t = subject
            .as_deref()
            .ok_or("I do not know what should be expensive or cheap")?;
        let table = schema.table(t).ok_or("unknown table")?;
        let c = table
            .columns
            .iter()
            .find(|c| {
                PRICE_COLUMNS.contains(&c.name.to_lowercase().as_str())
                    || c.name.to_lowercase().contains("price")
            })
            .ok_or_else(|| format!("{t} has no price"))?;
        columns.push(((t.to_owned(), c.name.clone()), Role::Measure));
    }
    let is_numeric = |c: &ColRef| {
        schema
            .table(&c.0)
            .and_then(|t| t.column(&c.1))
            .is_some_and(|c| c.is_numeric())
    };
    let is_temporal = |c: &ColRef| {
        schema
            .table(&c.0)
            .and_then(|t| t.column(&c.1))
            .is_some_and(|c| c.is_temporal())
    };
    let money = p.mentions.iter().any(|(m, _)| *m == Mention::Money);

    // The measure.
    let measure_col = columns
        .iter()
        .find(|(c, r)| *r == Role::Measure && is_numeric(c))
        .or_else(|| {
            matches!(p.agg, Some(Agg::Sum | Agg::Avg | Agg::Min | Agg::Max))
                .then(|| {
                    columns
                        .iter()
                        .find(|(c, r)| *r == Role::Plain && is_numeric(c))
                })
                .flatten()
        })
        .map(|(c, _)| c.clone());
    if let Some((c, _)) = columns
        .iter()
        .find(|(c, r)| *r == Role::Measure && !is_numeric(c))
        && (p.top.is_none() || is_temporal(c))
    {
        return Err(format!("{}.{} is not a number", c.0, c.1));
    }
    let mut used_cols: Vec<ColRef> = measure_col.iter().cloned().collect();
    let measure: Option<Measure> = if let Some(t) = &p.count_of {
        Some(Measure::Count(t.clone()))
    } else if p.agg == Some(Agg::Count) {
        let t = subject.clone().ok_or("I do not know what to count")?;
        Some(Measure::Count(t))
    } else if money {
        None // chosen below with the tables it needs
    } else if let Some(c) = &measure_col {
        match p.agg {
            Some(agg) => Some(Measure::Agg {
                agg,
                table: c.0.clone(),
                expr: sql.col(c),
                label: format!("{}_{}", agg_word(agg), c.1),
            }),
            None if p.top.is_some() => Some(Measure::Column(c.clone())),
            None => return Err(format!("what should I compute from {}?", c.1)),
        }
    } else if matches!(p.agg, Some(Agg::Sum)) && subject.is_some() {
        subject.clone().map(Measure::Count)
    } else if p.agg.is_some() {
        return Err("I do not know which column to aggregate".into());
    } else if p.bucket.is_some()
        || columns.iter().any(|(_, r)| *r == Role::Group)
        || tables.iter().any(|(_, r)| *r == Role::Group)
    {
        // "customers per country", "orders per month": count them.
        let t = subject.clone().ok_or("I do not know what to count")?;
        Some(Measure::Count(t))
    } else {
        None
    };

    // Groupings.
    let mut group_tables: Vec<String> = tables
        .iter()
        .filter(|(_, r)| *r == Role::Group)
        .map(|(t, _)| (*t).to_owned())
        .collect();
    let mut group_cols: Vec<ColRef> = columns
        .iter()
        .filter(|(_, r)| *r == Role::Group)
        .map(|(c, _)| c.clone())
        .collect();
    let aggregated = money || matches!(measure, Some(Measure::Count(_) | Measure::Agg { .. }));
    if p.top.is_some() && aggregated && group_tables.is_empty() && group_cols.is_empty() {
        // "top 5 products by revenue", "which city has the most customers".
        if let Some((c, _)) = columns
            .iter()
            .find(|(c, r)| *r == Role::Plain && !is_numeric(c) && !is_temporal(c))
        {
            group_cols.push(c.clone());
        } else if let Some(s) = &subject
            && !matches!(&measure, Some(Measure::Count(t)) if t == s)
        {
            group_tables.push(s.clone());
        } else {
            return Err("a ranking needs something to rank (\"top 5 products by revenue\")".into());
        }
    }
    used_cols.extend(group_cols.iter().cloned());

    // Tables the question needs, besides the measure's.
    let mut needed: Vec<String> = mentioned.iter().map(|t| (*t).to_owned()).collect();
    needed.extend(group_tables.iter().cloned());
    needed.extend(group_cols.iter().map(|c| c.0.clone()));
    if let Some(Measure::Count(t)) = &measure {
        needed.push(t.clone());
    }
    // Value filters: one per phrase; several values of one column become IN (…).
    let mut filters: BTreeMap<ColRef, Vec<String>> = BTreeMap::new();
    for cands in &p.values {
        let pick: Vec<&(ColRef, String)> = if cands.len() == 1 {
            cands.iter().collect()
        } else {
            let near: Vec<&(ColRef, String)> = cands
                .iter()
                .filter(|(c, _)| mentioned.contains(&c.0.as_str()))
                .collect();
            if near.is_empty() {
                cands.iter().collect()
            } else {
                near
            }
        };
        let distinct_cols: std::collections::BTreeSet<&ColRef> =
            pick.iter().map(|(c, _)| c).collect();
        if distinct_cols.len() != 1 {
            return Err(format!(
                "\"{}\" appears in several columns ({})",
                cands[0].1,
                distinct_cols
                    .iter()
                    .map(|(t, c)| format!("{t}.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (c, v) in pick {
            let vals = filters.entry(c.clone()).or_default();
            if !vals.contains(v) {
                vals.push(v.clone());
            }
        }
    }
    needed.extend(filters.keys().map(|c| c.0.clone()));
    let mut numeric: Vec<(ColRef, &str, f64)> = Vec::new();
    for (cands, cmp, n) in &p.numeric {
        let near: Vec<&ColRef> = cands
            .iter()
            .filter(|c| mentioned.contains(&c.0.as_str()))
            .collect();
        let pick = if near.is_empty() {
            cands.iter().collect()
        } else {
            near
        };
        match pick.as_slice() {
            [c] => {
                if !is_numeric(c) {
                    return Err(format!("{} is not a number", c.1));
                }
                numeric.push(((*c).clone(), cmp.sql(), *n));
                needed.push(c.0.clone());
            }
            _ => return Err("a compared column is ambiguous".into()),
        }
    }
    let stray: Vec<&ColRef> = columns
        .iter()
        .filter(|(c, r)| *r == Role::Plain && !used_cols.contains(c) && !filters.contains_key(c))
        .map(|(c, _)| c)
        .collect();
    let temporal_mention = stray.iter().find(|c| is_temporal(c)).map(|c| (*c).clone());

    let g = edges(schema, semantic);
    // The measure's table, and for money the expression.
    let (measure, base) = match measure {
        Some(Measure::Count(t)) => (Measure::Count(t.clone()), t),
        Some(Measure::Agg {
            agg,
            table,
            expr,
            label,
        }) => (
            Measure::Agg {
                agg,
                table: table.clone(),
                expr,
                label,
            },
            table,
        ),
        Some(Measure::Column(c)) => (Measure::Column(c.clone()), c.0),
        None if money => {
            let agg = p.agg.unwrap_or(Agg::Sum);
            let mut best: Option<(usize, bool, Measure, String)> = None;
            for t in &schema.tables {
                let direct = t.columns.iter().find(|c| {
                    c.is_numeric() && MONEY_COLUMNS.contains(&c.name.to_lowercase().as_str())
                });
                let qty = t.columns.iter().find(|c| {
                    c.is_numeric() && QUANTITY_COLUMNS.contains(&c.name.to_lowercase().as_str())
                });
                let price = t.columns.iter().find(|c| {
                    c.is_numeric() && PRICE_COLUMNS.contains(&c.name.to_lowercase().as_str())
                });
                let expr = match (direct, qty, price) {
                    (Some(d), _, _) => (sql.col(&(t.name.clone(), d.name.clone())), true),
                    (None, Some(q), Some(pr)) => (
                        format!(
                            "{} * {}",
                            sql.col(&(t.name.clone(), q.name.clone())),
                            sql.col(&(t.name.clone(), pr.name.clone()))
                        ),
                        false,
                    ),
                    _ => continue,
                };
                let tree = reach(&g, &t.name, false);
                let mut need_date = p.range.is_some() || p.bucket.is_some();
                if need_date
                    && (date_column(t).is_some()
                        || tree
                            .keys()
                            .any(|k| schema.table(k).and_then(date_column).is_some()))
                {
                    need_date = false;
                }
                if need_date || needed.iter().any(|n| !tree.contains_key(n)) {
                    continue;
                }
                let cost: usize = needed.iter().map(|n| depth(&tree, n)).sum();
                let label = if agg == Agg::Sum {
                    "revenue".to_owned()
                } else {
                    format!("{}_revenue", agg_word(agg))
                };
                let better = best
                    .as_ref()
                    .is_none_or(|(c, d, _, _)| cost < *c || (cost == *c && expr.1 && !*d));
                if better {
                    best = Some((
                        cost,
                        expr.1,
                        Measure::Agg {
                            agg,
                            table: t.name.clone(),
                            expr: expr.0,
                            label,
                        },
                        t.name.clone(),
                    ));
                }
            }
            let (_, _, m, base) = best.ok_or("I do not know how revenue is recorded in this database together with the rest of the question")?;
            (m, base)
        }
        None => {
            let t = subject
                .clone()
                .ok_or("I could not tell which table the question is about")?;
            (Measure::Count(String::new()), t)
        }
    };
    let listing = matches!(&measure, Measure::Count(t) if t.is_empty());
    let counting = matches!(&measure, Measure::Count(t) if !t.is_empty());
    let fanout_safe = counting
        || matches!(
            &measure,
            Measure::Agg {
                agg: Agg::Min | Agg::Max,
                ..
            }
        );

    let forward = reach(&g, &base, false);
    let mut tree = forward.clone();
    let mut distinct = false;
    if needed.iter().any(|n| !forward.contains_key(n)) {
        if !fanout_safe {
            return Err(format!(
                "{} cannot be combined with the other tables named without counting rows twice",
                base
            ));
        }
        tree = reach(&g, &base, true);
        distinct = true;
        if let Some(missing) = needed.iter().find(|n| !tree.contains_key(*n)) {
            return Err(format!("{missing} is not linked to {base} by foreign keys"));
        }
    }
    // The date column.
    let mut date_col: Option<ColRef> = None;
    if p.range.is_some() || p.bucket.is_some() {
        let own = |t: &str| -> Option<(usize, ColRef)> {
            let table = schema.table(t)?;
            let c = date_column(table)?;
            let rank = if c.to_lowercase().contains(&stem(&t.to_lowercase())) {
                0
            } else {
                1
            };
            Some((rank, (t.to_owned(), c)))
        };
        let mut named: Vec<(usize, usize, ColRef)> = std::iter::once(base.as_str())
            .chain(needed.iter().map(String::as_str))
            .filter(|t| tree.contains_key(*t))
            .filter_map(|t| own(t).map(|(r, c)| (r, usize::from(t != base), c)))
            .collect();
        named.sort_by_key(|a| (a.0, a.1));
        date_col = temporal_mention
            .clone()
            .or_else(|| named.first().map(|n| n.2.clone()))
            .or_else(|| {
                let mut reached: Vec<(&String, usize)> =
                    forward.keys().map(|k| (k, depth(&forward, k))).collect();
                reached.sort_by_key(|(k, d)| (*d, *k != &base));
                reached.into_iter().find_map(|(k, _)| {
                    schema
                        .table(k)
                        .and_then(date_column)
                        .map(|c| (k.clone(), c))
                })
            });
        let Some(dc) = &date_col else {
            return Err(format!("{base} has no date column"));
        };
        if !tree.contains_key(&dc.0) {
            return Err(format!("{} is not linked to {base}", dc.0));
        }
        needed.push(dc.0.clone());
    }
    if let Some(c) = stray
        .iter()
        .find(|c| Some((**c).clone()) != temporal_mention && !listing)
    {
        return Err(format!(
            "I do not know how {}.{} fits into the question",
            c.0, c.1
        ));
    }

    // FROM and joins.
    let mut joined: Vec<String> = vec![base.clone()];
    let mut joins: Vec<String> = Vec::new();
    for n in &needed {
        let mut chain: Vec<(String, Edge)> = Vec::new();
        let mut cur = n.clone();
        while let Some(Some((parent, e))) = tree.get(&cur) {
            chain.push((parent.clone(), e.clone()));
            cur = parent.clone();
        }
        for (_, e) in chain.into_iter().rev() {
            if joined.contains(&e.to) {
                continue;
            }
            let on =
                e.on.iter()
                    .map(|(a, b)| format!("{} = {}", sql.col(a), sql.col(b)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
            joins.push(format!("JOIN {} ON {on}", sql.ident(&e.to)));
            joined.push(e.to.clone());
        }
    }
    if listing && distinct {
        return Err("listing rows across those tables would repeat them".into());
    }

    // WHERE.
    let mut conds: Vec<String> = Vec::new();
    for (c, vals) in &filters {
        if vals.len() == 1 {
            conds.push(format!("{} = {}", sql.col(c), quote_literal(&vals[0])));
        } else {
            conds.push(format!(
                "{} IN ({})",
                sql.col(c),
                vals.iter()
                    .map(|v| quote_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for (c, cmp, n) in &numeric {
        conds.push(format!("{} {cmp} {n}", sql.col(c)));
    }
    if let (Some((from, to)), Some(dc)) = (p.range, &date_col) {
        if let Some(f) = from {
            conds.push(format!("{} >= {}", sql.col(dc), date_lit(f)));
        }
        if let Some(t) = to {
            conds.push(format!("{} < {}", sql.col(dc), date_lit(t)));
        }
    }

    // SELECT, GROUP BY, ORDER BY.
    let mut select: Vec<String> = Vec::new();
    let mut group_by: Vec<String> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut used_aliases: Vec<String> = Vec::new();
    let mut alias = |want: String| {
        let mut a = want.clone();
        let mut n = 2;
        while used_aliases.contains(&a) {
            a = format!("{want}_{n}");
            n += 1;
        }
        used_aliases.push(a.clone());
        a
    };
    let mut group_labels: Vec<String> = Vec::new();
    if let (Some(b), Some(dc)) = (p.bucket, &date_col) {
        let a = alias(if b == Bucket::Month {
            "month".into()
        } else {
            "year".into()
        });
        let e = sql.bucket(&sql.col(dc), b);
        select.push(format!("{e} AS {}", sql.ident(&a)));
        group_by.push(e.clone());
        group_labels.push(a);
    }
    for t in &group_tables {
        let table = schema.table(t).ok_or("unknown table")?;
        let label = (t.clone(), label_column(table));
        let a = alias(singular(&t.to_lowercase()));
        select.push(format!("{} AS {}", sql.col(&label), sql.ident(&a)));
        for pk in &table.primary_key {
            group_by.push(sql.col(&(t.clone(), pk.clone())));
        }
        group_by.push(sql.col(&label));
        group_labels.push(a);
    }
    for c in &group_cols {
        let a = alias(c.1.clone());
        select.push(format!("{} AS {}", sql.col(c), sql.ident(&a)));
        group_by.push(sql.col(c));
        group_labels.push(a);
    }
    let (intent, measure_alias) = match &measure {
        Measure::Count(t) if t.is_empty() => {
            let table = schema.table(&base).ok_or("unknown table")?;
            select.push(format!("{}.*", sql.ident(&base)));
            for pk in &table.primary_key {
                order.push(sql.col(&(base.clone(), pk.clone())));
            }
            (Intent::List, None)
        }
        Measure::Column(c) => {
            let table = schema.table(&base).ok_or("unknown table")?;
            let label = (base.clone(), label_column(table));
            if label != *c {
                select.push(format!(
                    "{} AS {}",
                    sql.col(&label),
                    sql.ident(&alias(label.1.clone()))
                ));
            }
            let a = alias(c.1.clone());
            select.push(format!("{} AS {}", sql.col(c), sql.ident(&a)));
            let (n, desc) = p.top.unwrap_or((10, true));
            order.push(format!(
                "{} {}",
                sql.ident(&a),
                if desc { "DESC" } else { "ASC" }
            ));
            for pk in &table.primary_key {
                order.push(sql.col(&(base.clone(), pk.clone())));
            }
            let _ = n;
            (Intent::TopN, Some(a))
        }
        Measure::Count(t) => {
            let table = schema.table(t).ok_or("unknown table")?;
            let e = match (distinct, table.primary_key.as_slice()) {
                (true, [pk]) => format!("COUNT(DISTINCT {})", sql.col(&(t.clone(), pk.clone()))),
                (true, _) => {
                    return Err(format!("{t} has no single-column primary key to count by"));
                }
                (false, _) => "COUNT(*)".to_owned(),
            };
            let a = alias("count".into());
            select.push(format!("{e} AS {}", sql.ident(&a)));
            (Intent::Count, Some(a))
        }
        Measure::Agg {
            agg, expr, label, ..
        } => {
            let e = match agg {
                Agg::Count => format!("COUNT({expr})"),
                Agg::Sum => format!("SUM({expr})"),
                Agg::Avg => format!("AVG({expr})"),
                Agg::Min => format!("MIN({expr})"),
                Agg::Max => format!("MAX({expr})"),
            };
            let e = if money && matches!(agg, Agg::Sum | Agg::Avg) {
                format!("ROUND({e}, 2)")
            } else {
                e
            };
            let a = alias(label.clone());
            select.push(format!("{e} AS {}", sql.ident(&a)));
            (Intent::Aggregate, Some(a))
        }
    };
    let grouped = !group_by.is_empty();
    let intent = if matches!(intent, Intent::List | Intent::TopN) {
        intent
    } else if p.top.is_some() && grouped {
        Intent::TopN
    } else if p.bucket.is_some() {
        Intent::Trend
    } else if grouped {
        Intent::Breakdown
    } else {
        intent
    };
    let mut limit: Option<usize> = None;
    match intent {
        Intent::TopN => {
            let (n, desc) = p.top.unwrap_or((10, true));
            if grouped {
                if let Some(a) = &measure_alias {
                    order.push(format!(
                        "{} {}",
                        sql.ident(a),
                        if desc { "DESC" } else { "ASC" }
                    ));
                }
                order.extend(group_labels.iter().map(|a| sql.ident(a)));
            }
            limit = Some(n);
        }
        Intent::Trend => order.extend(group_labels.iter().map(|a| sql.ident(a))),
        Intent::Breakdown => {
            if let Some(a) = &measure_alias {
                order.push(format!("{} DESC", sql.ident(a)));
            }
            order.extend(group_labels.iter().map(|a| sql.ident(a)));
        }
        _ => {}
    }
    if p.top.is_some() && !matches!(intent, Intent::TopN) {
        return Err("a ranking needs a measure to rank by".into());
    }

    let mut text = format!("SELECT {} FROM {}", select.join(", "), sql.ident(&base));
    for j in &joins {
        text.push(' ');
        text.push_str(j);
    }
    if !conds.is_empty() {
        text.push_str(" WHERE ");
        text.push_str(&conds.join(" AND "));
    }
    if grouped {
        text.push_str(" GROUP BY ");
        text.push_str(&group_by.join(", "));
    }
    if !order.is_empty() {
        text.push_str(" ORDER BY ");
        text.push_str(&order.join(", "));
    }
    if let Some(n) = limit {
        text.push_str(&format!(" LIMIT {n}"));
    }
    Ok(Analysis {
        sql: text,
        intent,
        summary: p.text.clone(),
    })
}

fn agg_word(a: Agg) -> &'static str {
    match a {
        Agg::Count => "count",
        Agg::Sum => "total",
        Agg::Avg => "average",
        Agg::Min => "min",
        Agg::Max => "max",
    }
}
