//! One conformance suite run against every `Backend` implementation.

use ha_cache::{Backend, InsertOptions};

fn s(text: &str) -> String {
    text.to_string()
}

/// Get, set, delete, get_many, set_many, pattern and tag invalidation on an empty store.
pub(crate) async fn conformance<B: Backend<String, String>>(l2: &B) {
    let none = InsertOptions::new();
    assert_eq!(l2.get(&s("a")).await.unwrap(), None);
    l2.set(&s("a"), &s("1"), &none).await.unwrap();
    assert_eq!(l2.get(&s("a")).await.unwrap().as_deref(), Some("1"));
    l2.set(&s("a"), &s("2"), &none).await.unwrap();
    assert_eq!(l2.get(&s("a")).await.unwrap().as_deref(), Some("2"));
    assert!(l2.delete(&s("a")).await.unwrap());
    assert!(!l2.delete(&s("a")).await.unwrap());
    assert_eq!(l2.get(&s("a")).await.unwrap(), None);
    assert!(l2.set_if_absent(&s("a"), &s("first"), &none).await.unwrap());
    assert!(
        !l2.set_if_absent(&s("a"), &s("second"), &none)
            .await
            .unwrap()
    );
    assert_eq!(l2.get(&s("a")).await.unwrap().as_deref(), Some("first"));
    assert!(l2.delete(&s("a")).await.unwrap());

    let entries = vec![
        (s("user:1"), s("ada")),
        (s("user:2"), s("bob")),
        (s("order:1"), s("book")),
    ];
    l2.set_many(&entries, &none).await.unwrap();
    l2.set_many(&[], &none).await.unwrap();
    let keys = [s("user:1"), s("nope"), s("order:1"), s("user:2")];
    assert_eq!(
        l2.get_many(&keys).await.unwrap(),
        vec![Some(s("ada")), None, Some(s("book")), Some(s("bob"))]
    );
    assert_eq!(
        l2.get_many(&[]).await.unwrap(),
        Vec::<Option<String>>::new()
    );

    assert_eq!(l2.invalidate_pattern("user:*").await.unwrap(), 2);
    assert_eq!(l2.invalidate_pattern("user:*").await.unwrap(), 0);
    assert!(l2.invalidate_pattern("user:[").await.is_err());
    assert_eq!(
        l2.get(&s("order:1")).await.unwrap().as_deref(),
        Some("book")
    );

    let red = InsertOptions::new().tag("red");
    let red_blue = InsertOptions::new().tag("red").tag("blue");
    l2.set(&s("t1"), &s("x"), &red).await.unwrap();
    l2.set(&s("t2"), &s("y"), &red_blue).await.unwrap();
    l2.set(&s("t3"), &s("z"), &none).await.unwrap();
    assert_eq!(l2.invalidate_tag("red").await.unwrap(), 2);
    assert_eq!(l2.invalidate_tag("red").await.unwrap(), 0);
    assert_eq!(l2.invalidate_tag("blue").await.unwrap(), 0); // t2 is gone already
    assert_eq!(l2.get(&s("t3")).await.unwrap().as_deref(), Some("z"));

    // A key's tags are those of its last write: an overwrite without the tag, or a delete, or a
    // pattern invalidation, takes it out of the tag's members.
    l2.set(&s("m1"), &s("1"), &red).await.unwrap();
    l2.set(&s("m1"), &s("2"), &none).await.unwrap();
    l2.set(&s("m2"), &s("1"), &red_blue).await.unwrap();
    l2.set(&s("m2"), &s("2"), &InsertOptions::new().tag("blue"))
        .await
        .unwrap();
    l2.set(&s("m3"), &s("1"), &red).await.unwrap();
    assert!(l2.delete(&s("m3")).await.unwrap());
    l2.set(&s("m3"), &s("2"), &none).await.unwrap();
    l2.set(&s("m4"), &s("1"), &red).await.unwrap();
    assert_eq!(l2.invalidate_pattern("m4").await.unwrap(), 1);
    l2.set(&s("m4"), &s("2"), &none).await.unwrap();
    assert_eq!(l2.invalidate_tag("red").await.unwrap(), 0);
    for key in ["m1", "m2", "m3", "m4"] {
        assert_eq!(
            l2.get(&s(key)).await.unwrap().as_deref(),
            Some("2"),
            "{key}"
        );
    }
    assert_eq!(l2.invalidate_tag("blue").await.unwrap(), 1); // m2 kept blue
    assert!(!l2.set_if_absent(&s("m1"), &s("3"), &red).await.unwrap());
    assert_eq!(
        l2.invalidate_tag("red").await.unwrap(),
        0,
        "a refused write adds no tag"
    );
    assert_eq!(l2.invalidate_pattern("m?").await.unwrap(), 3); // m1, m3, m4
}
