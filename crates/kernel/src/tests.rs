//! Behaviour of real sandboxed ipykernels.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::{Kernel, testenv::launch_options};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_kind_comes_back() {
    let Some(opts) = launch_options().await else {
        return;
    };
    let ws = tempfile::tempdir().unwrap();
    let mut k = Kernel::start(&opts, ws.path(), None).await.unwrap();
    let out = k
        .execute(
            "print('hi'); import sys; print('oops', file=sys.stderr); 1+1",
            T,
        )
        .await
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout, "hi\n2\n");
    assert_eq!(out.stderr, "oops\n");
    let out = k.execute("raise ValueError('bad')", T).await.unwrap();
    assert!(!out.success);
    let err = out.error.clone().unwrap();
    assert_eq!(
        (err.ename.as_str(), err.evalue.as_str()),
        ("ValueError", "bad")
    );
    assert!(
        err.traceback.iter().any(|l| l.contains("ValueError")),
        "{err:?}"
    );
    assert!(!err.traceback.concat().contains('\u{1b}'));
    let out = k
        .execute(
            "import matplotlib.pyplot as plt\nplt.plot([1,2,3],[3,1,2])\nplt.show()\nfrom IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))",
            T,
        )
        .await
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.images.len(), 1);
    assert_eq!(out.images[0].format, "png");
    assert!(out.images[0].data.starts_with("iVBORw0KGgo"), "not a PNG");
    assert!(
        out.outputs
            .iter()
            .any(|o| o["data"]["text/html"] == "<b>x</b>")
    );
    let vars = {
        k.execute(
            "import pandas as pd\ndf = pd.DataFrame({'a':[1,2,3]})\nn = [1,2]",
            T,
        )
        .await
        .unwrap();
        k.variables().await.unwrap()
    };
    let df = vars.iter().find(|v| v.name == "df").unwrap();
    assert_eq!(
        (df.type_name.as_str(), df.shape.clone()),
        ("DataFrame", Some(vec![3, 1]))
    );
    assert!(
        vars.iter()
            .any(|v| v.name == "n" && v.shape == Some(vec![2]))
    );
    assert!(!vars.iter().any(|v| v.name == "pd"));
    assert!(k.is_alive(Duration::from_secs(5)).await);
    k.shutdown().await;
}
