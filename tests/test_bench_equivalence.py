"""The side-by-side run's equivalence check: two gateways' answers to a compared query are
the same data when their normal forms are equal, and every real difference is named."""

from __future__ import annotations

from typing import Any

from bench.equivalence import compare, normalise


def answer(*products: dict[str, Any] | None) -> dict[str, Any]:
    return {"data": {"products": list(products)}}


def level(location: str, on_hand: int, reserved: int = 0) -> dict[str, Any]:
    return {"location": {"id": location}, "onHand": on_hand, "reserved": reserved}


def product(sku: str, *levels: dict[str, Any], amount: Any = "9.90") -> dict[str, Any]:
    return {"sku": sku, "price": {"amount": amount, "currency": "EUR"}, "stock": list(levels)}


def test_stock_levels_in_another_order_and_money_written_otherwise_are_the_same_data() -> None:
    mosaic = answer(product("1", level("store:A", 3), level("warehouse:W", 5)), None)
    peer = answer(product("1", level("warehouse:W", 5), level("store:A", 3), amount=9.9), None)
    verdict = compare("PeerStockCheck", {"mosaic": mosaic, "hive": peer})
    assert verdict.same
    assert not verdict.identical
    assert verdict.differences == []


def test_products_keep_the_order_asked() -> None:
    mosaic = answer(product("1"), product("2"))
    peer = answer(product("2"), product("1"))
    verdict = compare("PeerStockCheck", {"mosaic": mosaic, "hive": peer})
    assert not verdict.same
    assert any("data.products[0].sku" in d for d in verdict.differences)


def test_an_empty_stock_level_says_what_no_level_says_and_is_counted() -> None:
    mosaic = answer(product("1", level("store:A", 3), level("warehouse:X", 0)))
    peer = answer(product("1", level("store:A", 3)))
    verdict = compare("PeerStockCheck", {"mosaic": mosaic, "hive": peer})
    assert verdict.same
    assert verdict.empty_levels == {"mosaic": 1, "hive": 0}


def test_a_different_quantity_is_named_with_its_path_and_both_values() -> None:
    mosaic = answer(product("1", level("store:A", 3, reserved=1)))
    peer = answer(product("1", level("store:A", 3, reserved=2)))
    verdict = compare("PeerStockCheck", {"mosaic": mosaic, "hive": peer})
    assert not verdict.same
    assert verdict.differences == ["data.products[0].stock[0].reserved: mosaic 1 != hive 2"]


def test_an_answer_with_errors_is_never_the_same_data() -> None:
    broken = {"data": None, "errors": [{"message": "ERP down"}]}
    verdict = compare("PeerProductListing", {"mosaic": answer(product("1")), "hive": broken})
    assert not verdict.same
    assert verdict.differences == ['hive answered errors: [{"message":"ERP down"}]']


def test_a_missing_field_is_named_on_the_side_that_has_it() -> None:
    mosaic = answer({"sku": "1", "name": "Lamp"})
    peer = answer({"sku": "1"})
    verdict = compare("PeerStockCheck", {"mosaic": mosaic, "hive": peer})
    assert verdict.differences == ["data.products[0].name: only mosaic has it"]


def test_the_normal_form_counts_every_value_compared() -> None:
    normal, dropped = normalise({"products": [product("1", level("store:A", 3))]})
    assert dropped == 0
    assert normal == {
        "products": [
            {
                "sku": "1",
                "price": {"amount": "9.9", "currency": "EUR"},
                "stock": [{"location": {"id": "store:A"}, "onHand": 3, "reserved": 0}],
            }
        ]
    }
    verdict = compare(
        "q",
        {
            "a": answer(product("1", level("store:A", 3))),
            "b": answer(product("1", level("store:A", 3))),
        },
    )
    assert verdict.values == 6  # sku, amount, currency, location id, onHand, reserved
