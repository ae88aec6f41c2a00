"""The privacy results: the README's table is the one generated from the results file, and the
Privacy page is in the site's navigation with its generated table and curve."""

from __future__ import annotations

from doc_blocks import DOCS, README, ROOT

from docgen.benchmarks import GENERATORS, load_result, privacy_headline


def test_readme_privacy_table_is_the_generated_one() -> None:
    assert privacy_headline() in README.read_text(encoding="utf-8"), (
        "README's privacy table differs from benchmarks/results/privacy.json; paste:\n"
        + privacy_headline())


def test_privacy_results_cover_every_epsilon_for_both_modes() -> None:
    # The table: ε ∈ {∞, 8, 4, 1} for client- and sample-level DP, 3 seeds, 30 sites
    result = load_result("privacy")
    cells = {(r["partition"], r["mode"], r["epsilon"]) for r in result["records"]}
    seeds = {r["seed"] for r in result["records"]}
    assert seeds == {0, 1, 2}
    for partition in ("product_type", "dirichlet5"):
        for mode in ("client", "sample"):
            assert {(partition, mode, e) for e in (8.0, 4.0, 1.0)} <= cells
    assert {("dirichlet30", "client", e) for e in (8.0, 4.0, 1.0)} <= cells
    assert "privacy-table" in GENERATORS and "∞" in GENERATORS["privacy-table"]()


def test_privacy_page_is_in_the_navigation_with_its_table_and_curve() -> None:
    page = (DOCS / "user-guide" / "privacy.md").read_text(encoding="utf-8")
    assert "user-guide/privacy.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "<!-- generate: privacy-table -->" in page
    assert (DOCS / "benchmarks" / "privacy.png").is_file()
