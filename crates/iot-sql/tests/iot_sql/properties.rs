//! Properties: any statement tree prints to text that parses back to the same tree (so the
//! printed form can be stored and shown), and printing is stable for statements parsed from
//! text.

use iot_sql::{
    BinaryOp, Case, CastType, Expr, Function, Literal, Query, Select, SelectItem, Statement,
    Subquery, Template, UnaryOp,
};
use proptest::prelude::*;

use super::V2;

const FIELDS: &[&str] = &[
    "a", "b", "temp", "value", "Value", "e", "n", "_x", "e5", "values",
];
const FILTERS: &[&str] = &[
    "a/b",
    "sensors/+/data",
    "#",
    "a/+/#",
    "it's/\\/+",
    "$aws/things/x",
];

fn name() -> impl Strategy<Value = String> {
    proptest::sample::select(FIELDS).prop_map(str::to_owned)
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        (0..=i64::MAX).prop_map(Literal::Int),
        (0u32..1_000_000, 0i32..12)
            .prop_map(|(m, k)| Literal::Decimal(f64::from(m) / 10f64.powi(k) + 0.5)),
        prop_oneof![Just(1e300), Just(1e-7), Just(2.5e20), Just(5.0)].prop_map(Literal::Decimal),
        "[a-z'\"\\\\ \n\t\u{e9}\u{1f600}]{0,6}".prop_map(Literal::String),
    ]
}

fn function() -> impl Strategy<Value = Function> {
    // encode/decode refuse literal schemes other than 'base64'; they are covered elsewhere.
    let usable: Vec<Function> = Function::ALL
        .iter()
        .copied()
        .filter(|f| !matches!(f, Function::Encode | Function::Decode))
        .collect();
    proptest::sample::select(usable)
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    proptest::sample::select(vec![
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::LtEq,
        BinaryOp::Gt,
        BinaryOp::GtEq,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
    ])
}

fn cast_type() -> impl Strategy<Value = CastType> {
    proptest::sample::select(vec![
        CastType::String,
        CastType::Int,
        CastType::Double,
        CastType::Decimal,
        CastType::Boolean,
    ])
}

fn alias() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(name(), 1..3))
}

fn select(expr: BoxedStrategy<Expr>) -> impl Strategy<Value = Select> {
    let item = prop_oneof![
        (expr.clone(), alias()).prop_map(|(expr, alias)| match (expr, alias) {
            (Expr::Payload, None) => SelectItem::Wildcard,
            (expr, alias) => SelectItem::Expr { expr, alias },
        }),
        Just(SelectItem::Wildcard),
    ];
    prop_oneof![
        expr.prop_map(Select::Value),
        proptest::collection::vec(item, 1..4).prop_map(|mut items| {
            // At most one `*`.
            let mut seen = false;
            items.retain(|item| {
                let wildcard = *item == SelectItem::Wildcard;
                let keep = !(wildcard && seen);
                seen |= wildcard;
                keep
            });
            Select::Items(items)
        }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        literal().prop_map(Expr::Literal),
        Just(Expr::Payload),
        name().prop_map(Expr::Field),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            (inner.clone(), name()).prop_map(|(b, n)| Expr::Member(Box::new(b), n)),
            (inner.clone(), inner.clone()).prop_map(|(b, i)| Expr::Index(Box::new(b), Box::new(i))),
            inner
                .clone()
                .prop_map(|e| Expr::Unary(UnaryOp::Neg, Box::new(e))),
            inner
                .clone()
                .prop_map(|e| Expr::Unary(UnaryOp::Not, Box::new(e))),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary(
                op,
                Box::new(l),
                Box::new(r)
            )),
            (function(), proptest::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, args)| Expr::Call(f, args)),
            (inner.clone(), cast_type()).prop_map(|(e, t)| Expr::Cast(Box::new(e), t)),
            (
                inner.clone(),
                proptest::collection::vec((inner.clone(), inner.clone()), 1..3),
                proptest::option::of(inner.clone())
            )
                .prop_map(|(value, when, otherwise)| Expr::Case(Box::new(Case {
                    value,
                    when,
                    otherwise
                }))),
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Expr::Array),
            proptest::collection::vec(("[a-z' ]{0,3}", inner.clone()), 0..3).prop_map(Expr::Object),
            (
                select(inner.clone().boxed()),
                inner.clone(),
                proptest::option::of(inner)
            )
                .prop_map(|(select, from, condition)| Expr::Subquery(Box::new(
                    Subquery {
                        select,
                        from,
                        condition
                    }
                ))),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    (
        select(expr().boxed()),
        proptest::option::of(proptest::sample::select(FILTERS).prop_map(str::to_owned)),
        proptest::option::of(expr()),
    )
        .prop_map(|(select, from, condition)| Query {
            select,
            from,
            condition,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printed_statements_parse_to_the_same_tree(query in query()) {
        let text = query.to_string();
        let parsed = Statement::parse(&text, V2)
            .map_err(|e| TestCaseError::fail(format!("{text:?} does not parse: {e}")))?;
        prop_assert_eq!(parsed.query(), &query, "printed as {:?}", text);
    }

    #[test]
    fn printed_templates_parse_to_the_same_template(
        parts in proptest::collection::vec(prop_oneof![
            "[a-z/$]{0,4}".prop_map(|t| t.replace("${", "$")),
            expr().prop_map(|e| format!("${{{e}}}")),
        ], 0..4)
    ) {
        let text = parts.concat();
        if let Ok(template) = Template::parse(&text, V2) {
            let printed = template.to_string();
            prop_assert_eq!(Template::parse(&printed, V2).ok(), Some(template), "{:?}", printed);
        }
    }

    #[test]
    fn printing_is_stable_for_parsed_text(text in "(SELECT|select) [a-z*,.()+ 0-9'=<>-]{1,30}( FROM 'a/b')?( WHERE [a-z0-9 =<>.']{1,12})?") {
        if let Ok(statement) = Statement::parse(&text, V2) {
            let once = statement.to_string();
            let again = Statement::parse(&once, V2).map_err(|e| TestCaseError::fail(format!("{once:?}: {e}")))?;
            prop_assert_eq!(&again, &statement);
            prop_assert_eq!(again.to_string(), once);
        }
    }
}
