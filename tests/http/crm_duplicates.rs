//! A likely duplicate customer names every field that matched, each with the customers it
//! matched, so the desk can see at once why and with whom.

use dms_tests::{http_tests, Client, TestServer};
use serde_json::{json, Value};

const VIN_A: &str = "LVGBE40K7PG123456";
const VIN_B: &str = "LVGBE40K9PG654321";
const VIN_C: &str = "LFV2A21K3P3000111";
const ID_NUMBER: &str = "11010519491231002X";

fn created(c: &Client, path: &str, body: Value) -> String {
    let r = c.post(path, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json["id"].as_str().unwrap().to_string()
}

fn every_matching_field_is_listed(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let store = &s.fixture.ht01;
    let a = created(
        &cs,
        "/api/v1/customers",
        json!({"store_id": store, "name": "孙丽", "phone": "13700001111", "id_number": ID_NUMBER}),
    );
    let b = created(
        &cs,
        "/api/v1/customers",
        json!({"store_id": store, "name": "周强", "phone": "13700002222"}),
    );
    for (owner, vin, plate) in [(&a, VIN_A, "京A·11111"), (&b, VIN_B, "京A·22222")] {
        created(
            &cs,
            "/api/v1/vehicles",
            json!({"store_id": store, "customer_id": owner, "vin": vin, "plate": plate,
                   "brand": "本田", "model": "雅阁"}),
        );
    }

    let r = cs.post(
        "/api/v1/customers",
        &json!({
            "store_id": store, "name": "孙丽丽", "phone": "13700009999",
            "other_phones": [{"phone": "13700001111", "label": "旧号"}],
            "id_number": ID_NUMBER,
            "vins": [VIN_C, VIN_A, VIN_B],
        }),
    );
    r.problem(409, "duplicate_suspected");
    let mut fields = r.invalid_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["id_number", "other_phones[0].phone", "vins[1]", "vins[2]"],
        "{}",
        r.body
    );
    let message_of = |f: &str| -> String {
        r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["field"] == f)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(message_of("other_phones[0].phone").contains(&a));
    assert!(message_of("id_number").contains(&a));
    assert!(message_of("vins[1]").contains(&a));
    assert!(message_of("vins[2]").contains(&b));
    assert!(!message_of("vins[2]").contains(&a));
    for e in r.json["errors"].as_array().unwrap() {
        assert_eq!(e["code"], "duplicate_suspected");
    }
    assert!(!r.body.contains(ID_NUMBER), "the ID number is not echoed");

    // The structured check names the probe's fields.
    let d = cs.post(
        "/api/v1/customers/duplicates",
        &json!({"phones": ["13700002222", "13700001111"], "vins": [VIN_B]}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let mut got: Vec<(String, String)> = d.json["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap().to_string(),
                m["customer_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        ("phones[0]".to_string(), b.clone()),
        ("phones[1]".to_string(), a.clone()),
        ("vins[0]".to_string(), b.clone()),
    ];
    want.sort();
    assert_eq!(got, want);

    // With allow_duplicate the record is created all the same (a person has looked).
    let r = cs.post(
        "/api/v1/customers",
        &json!({
            "store_id": store, "name": "孙丽丽", "phone": "13700009999",
            "vins": [VIN_A], "allow_duplicate": true,
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

http_tests!(every_matching_field_is_listed);
