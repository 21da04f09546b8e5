"""The retailer's whole story, generated once from a seed and a size.

Every simulated system is started apart, yet they must tell one consistent story: the
same person in the CRM, in POS loyalty and in the ERP; product numbers that match across
ERP, POS and WMS; online orders in the ERP and store receipts in the POS. So each system
builds the same ``World`` from the same ``(seed, size)`` and keeps only its own slice.

The fragments are as untidy as a real retailer's: a name typo in the ERP, an older phone
number in the POS, an e-mail in other casing, a cross-reference the CRM never learned, a
loyalty member the CRM has never seen. Generation draws from one ``random.Random`` in a
fixed order, so it is deterministic for a seed, and takes about a second at the default
size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Literal

from geodata import PostalArea, locate, postal_areas

SizeName = Literal["small", "default"]

#: The moment the seeded history ends; fixed so that data does not depend on the clock.
ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Size:
    customers: int
    products: int
    orders: int
    stores: int = 25


SIZES: dict[str, Size] = {
    "small": Size(customers=300, products=200, orders=3_000),
    "default": Size(customers=5_000, products=2_000, orders=50_000),
}

# --- the slices each system holds -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    city: str
    postal_code: str
    country: str = "NL"


@dataclass(frozen=True, slots=True)
class Consent:
    purpose: str
    granted: bool
    valid_until: date | None


@dataclass(slots=True)
class CrmContact:
    """A HubSpot-style contact: the customer master, with other systems' ids where known."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: Address
    erp_customer_no: str | None
    loyalty_card: str | None
    consents: list[Consent]
    segments: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class ErpCustomer:
    """A NAV customer card; holds online shoppers, with their invoice address."""

    no: str
    name: str
    email: str
    phone: str | None
    address: Address
    blocked: bool = False


@dataclass(slots=True)
class PosCustomer:
    """A Square customer profile with its loyalty account. The card number is the
    profile's ``reference_id`` (Square's accounts have no card); the tier is not kept
    anywhere: it follows from ``lifetime_points`` (:data:`TIER_THRESHOLDS`)."""

    id: str
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    loyalty_account_id: str
    card_number: str
    points: int  # the balance: earned and not yet redeemed
    lifetime_points: int
    enrolled_at: datetime


@dataclass(frozen=True, slots=True)
class Item:
    """An ERP item card. ``channels`` is the assortment: where the item is sold."""

    no: str
    description: str
    brand: str
    category: str
    gtin: str
    unit_price: Decimal
    base_unit: str
    blocked: bool
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SalesPrice:
    item_no: str
    channel: str
    unit_price: Decimal
    currency: str
    starting_date: date


@dataclass(frozen=True, slots=True)
class Promotion:
    code: str
    description: str
    item_no: str
    discount_percent: Decimal
    channel: str
    starting_date: date
    ending_date: date


@dataclass(frozen=True, slots=True)
class Store:
    """A POS location: a physical store at a real place."""

    id: str
    name: str
    address: Address
    lat: float
    lon: float
    opening_hours: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Warehouse:
    id: str
    name: str
    address: Address
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class OrderLine:
    item_no: str
    quantity: int
    unit_price: Decimal


@dataclass(slots=True)
class Order:
    """One purchase. ``system`` is where it lives: ``erp`` (web, app) or ``pos`` (store)."""

    id: str
    system: Literal["erp", "pos"]
    channel: Literal["WEB", "APP", "STORE"]
    customer_ref: str | None  # ERP customer no. or POS customer id; None: anonymous receipt
    placed_at: datetime
    status: str
    location_id: str | None
    lines: list[OrderLine]
    partner: str | None = None  # an online order made through a partner: its code

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))


@dataclass(frozen=True, slots=True)
class StockCount:
    item_no: str
    location_id: str
    on_hand: int
    reserved: int


@dataclass(frozen=True, slots=True)
class InboundShipment:
    id: str
    item_no: str
    location_id: str
    quantity: int
    expected_at: datetime


@dataclass(slots=True)
class Payment:
    """Money moved for an order: a payment, or a refund (a negative amount) against one.

    ``system`` keeps the record: the ERP's ledger has online orders' payments and the
    refunds of their returns wherever the goods came back; the POS has payments at the
    till and refunds of store receipts. A store return of an online order is recorded
    in both, as retailers do: the ERP books the refund to the original payment, the POS
    records the goods and the refund handed over in the ERP's name; each record names
    the other (``mirror_id``), and both carry the same amount.
    """

    id: str
    system: Literal["erp", "pos"]
    kind: Literal["PAYMENT", "REFUND"]
    order_id: str  # the order paid, or whose goods came back
    customer_ref: str | None  # in ``system``'s own customer ids; None: not known there
    method: str  # IDEAL, CARD, PAYPAL, KLARNA online; PIN, CARD, CASH at the till
    amount: Decimal  # negative for a refund
    status: Literal["COMPLETED", "CANCELED"]
    channel: Literal["WEB", "APP", "STORE"]
    at: datetime
    location_id: str | None = None  # the store, for the till and store returns
    refund_of: str | None = None  # a refund's payment, in the same system
    return_id: str | None = None  # a refund's ERP return order
    mirror_id: str | None = None  # the other system's record of the same refund
    reason: str | None = None  # a refund's return reason


@dataclass(slots=True)
class Return:
    """An ERP return order: goods of an online order coming back, by post (``channel``
    WEB or APP) or to a store (``STORE``, with ``location_id``)."""

    id: str
    order_id: str
    customer_ref: str
    channel: Literal["WEB", "APP", "STORE"]
    location_id: str | None
    returned_at: datetime
    reason: str
    lines: list[OrderLine]

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))


@dataclass(slots=True)
class World:
    seed: int
    size: str
    crm_contacts: list[CrmContact] = field(default_factory=list)
    erp_customers: list[ErpCustomer] = field(default_factory=list)
    pos_customers: list[PosCustomer] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    prices: list[SalesPrice] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    warehouses: list[Warehouse] = field(default_factory=list)
    erp_orders: list[Order] = field(default_factory=list)
    pos_orders: list[Order] = field(default_factory=list)
    store_stock: list[StockCount] = field(default_factory=list)
    warehouse_stock: list[StockCount] = field(default_factory=list)
    inbound: list[InboundShipment] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)  # ERP's and POS's, by ``system``
    returns: list[Return] = field(default_factory=list)  # ERP return orders


# --- vocabulary -------------------------------------------------------------------

FIRST_NAMES = [
    "Daan",
    "Sem",
    "Lucas",
    "Levi",
    "Finn",
    "Noah",
    "Bram",
    "Milan",
    "Jesse",
    "Luuk",
    "Thijs",
    "Ruben",
    "Lars",
    "Tim",
    "Sven",
    "Jan",
    "Pieter",
    "Emma",
    "Julia",
    "Mila",
    "Tess",
    "Sophie",
    "Zoë",
    "Sara",
    "Nora",
    "Eva",
    "Anna",
    "Lotte",
    "Fleur",
    "Lisa",
    "Sanne",
    "Iris",
    "Femke",
    "Anouk",
    "Mohamed",
    "Yusuf",
    "Ayoub",
    "Fatima",
    "Amira",
    "Noor",
    "Priya",
    "Wei",
    "Chen",
    "Kofi",
    "Ana",
]
LAST_NAMES = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van den Heuvel",
    "van der Veen",
    "van den Broek",
    "de Bruijn",
    "de Bruin",
    "van der Heijden",
    "Schouten",
    "van Beek",
    "Willems",
    "van Vliet",
    "van de Ven",
    "Hoekstra",
    "Maas",
    "Verhoeven",
    "Koster",
    "van Dam",
    "El Amrani",
    "Yilmaz",
    "Öztürk",
]
STREETS = [
    "Dorpsstraat",
    "Kerkstraat",
    "Schoolstraat",
    "Molenweg",
    "Stationsweg",
    "Julianastraat",
    "Beatrixstraat",
    "Wilhelminastraat",
    "Nieuwstraat",
    "Prinses Irenestraat",
    "Marktstraat",
    "Parallelweg",
    "Eikenlaan",
    "Lindelaan",
    "Beukenlaan",
    "Kastanjelaan",
    "Industrieweg",
    "Havenstraat",
    "Oranjestraat",
    "Emmastraat",
]

#: category code -> (brands, product nouns); HEALTH is the sensitive category.
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "SHOES": (("Nordlicht", "Veloce", "Kaapstad"), ("sneaker", "running shoe", "boot", "sandal")),
    "APPAREL": (
        ("Nordlicht", "Hollands Glorie", "Urbano"),
        ("jacket", "t-shirt", "hoodie", "jeans"),
    ),
    "HOME": (("Huisraad", "Lumen", "Delfts"), ("lamp", "vase", "throw", "cushion", "mug")),
    "KITCHEN": (("Huisraad", "Cuisina", "Staalwerk"), ("pan", "knife", "kettle", "blender")),
    "OUTDOOR": (("Veloce", "Wildpad", "Kaapstad"), ("tent", "backpack", "sleeping bag", "lantern")),
    "TOYS": (("Speelgoed & Co", "Bouwsteen"), ("puzzle", "building set", "plush bear", "kite")),
    "BEAUTY": (("Lumen", "Zacht"), ("shampoo", "face cream", "perfume", "hair dryer")),
    "HEALTH": (("Zacht", "Vitaal"), ("vitamin D", "pregnancy test", "blood pressure monitor")),
}
#: what the ERP's item categories are called (NAV's Item Category Description)
CATEGORY_NAMES: dict[str, str] = {
    "SHOES": "Shoes",
    "APPAREL": "Apparel",
    "HOME": "Home & living",
    "KITCHEN": "Kitchen",
    "OUTDOOR": "Outdoor",
    "TOYS": "Toys",
    "BEAUTY": "Beauty",
    "HEALTH": "Health",
}
COLOURS = ("black", "white", "navy", "olive", "sand", "red", "grey", "blue", "green", "ochre")

STORE_CITIES = (
    ("Amsterdam", "1012"),
    ("Rotterdam", "3011"),
    ("Den Haag", "2511"),
    ("Utrecht", "3511"),
    ("Eindhoven", "5611"),
    ("Groningen", "9711"),
    ("Tilburg", "5038"),
    ("Almere", "1315"),
    ("Breda", "4811"),
    ("Nijmegen", "6511"),
    ("Apeldoorn", "7311"),
    ("Haarlem", "2011"),
    ("Arnhem", "6811"),
    ("Enschede", "7511"),
    ("Amersfoort", "3811"),
    ("Zaandam", "1506"),
    ("'s-Hertogenbosch", "5211"),
    ("Zwolle", "8011"),
    ("Leiden", "2311"),
    ("Maastricht", "6211"),
    ("Dordrecht", "3311"),
    ("Leeuwarden", "8911"),
    ("Delft", "2611"),
    ("Alkmaar", "1811"),
    ("Deventer", "7411"),
)
WAREHOUSE_SITES = (
    ("WH-TLB", "Distribution centre Tilburg", "5048"),
    ("WH-ZWL", "Distribution centre Zwolle", "8013"),
    ("WH-NWG", "Distribution centre Nieuwegein", "3439"),
)
CONSENT_PURPOSES = ("email_marketing", "personalisation", "analytics")
#: the partners online orders come in through, by their code in the ERP (NAV codes are
#: upper case): the tests' API key is acme's, the demo's token demo-partner's
PARTNERS = ("ACME", "DEMO-PARTNER")
PARTNER_SHARE = 0.15  # of online orders
SEGMENTS = ("family", "outdoor", "home_maker", "fashion", "bargain_hunter", "premium")
#: the retailer's loyalty tiers and the lifetime points that reach each: the demo's and
#: the tests' ``MOSAIC_POS_TIER_THRESHOLDS`` (Square's loyalty accounts have no tiers)
TIER_THRESHOLDS = {"BRONZE": 0, "SILVER": 3000, "GOLD": 7000}
ERP_STATUSES = ("PLACED", "SHIPPED", "DELIVERED", "DELIVERED", "DELIVERED", "CANCELLED")


def _ean13(rng: random.Random) -> str:
    digits = "87" + "".join(str(rng.randrange(10)) for _ in range(10))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _card_number(n: int) -> str:
    """A 13-digit loyalty card number with an EAN check digit, as cards carry barcodes."""
    digits = f"261{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _loyalty_points(rng: random.Random) -> tuple[int, int]:
    """A member's balance and lifetime points: what was earned, less what was redeemed."""
    redeemed_share = rng.random()
    balance = rng.randrange(0, 5000)
    return balance, balance + round(redeemed_share**2 * 6000)


def _phone(rng: random.Random) -> str:
    return "+316" + "".join(str(rng.randrange(10)) for _ in range(8))


def _typo(rng: random.Random, word: str) -> str:
    """One realistic slip of the keyboard: two neighbouring letters swapped."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _residential_areas() -> list[PostalArea]:
    return sorted(postal_areas().values(), key=lambda a: a.postal_code)


@cache
def build_world(seed: int = 42, size: SizeName = "default") -> World:
    """The whole deterministic story for ``(seed, size)``; cached per process."""
    spec = SIZES[size]
    rng = random.Random(f"mosaic/{seed}/{size}")
    world = World(seed=seed, size=size)
    _places(world)
    _products(world, rng, spec)
    _customers(world, rng, spec)
    _orders(world, rng, spec)
    _stock(world, rng)
    # Later steps draw from their own generators, so adding one leaves every record
    # made before it exactly as it was.
    _payments(world, random.Random(f"mosaic/{seed}/{size}/payments"))
    _partners(world, random.Random(f"mosaic/{seed}/{size}/partners"))
    return world


def _places(world: World) -> None:
    for n, (city, pc4) in enumerate(STORE_CITIES, start=1):
        area = locate(pc4)
        assert area is not None, pc4
        world.stores.append(
            Store(
                id=f"LOC-{n:03d}",
                name=f"Mosaic {city}",
                address=Address(f"{STREETS[n % len(STREETS)]} {n * 3 + 1}", city, f"{pc4} AB"),
                lat=area.lat,
                lon=area.lon,
                opening_hours="Mo-Sa 09:00-18:00; Su 12:00-17:00",
                # One store is closed for renovation, so "closed store" has a real case.
                active=city != "Deventer",
            )
        )
    for wid, name, pc4 in WAREHOUSE_SITES:
        area = locate(pc4)
        assert area is not None, pc4
        world.warehouses.append(
            Warehouse(
                wid, name, Address("Logistiekweg 1", area.city, f"{pc4} XZ"), area.lat, area.lon
            )
        )


def _products(world: World, rng: random.Random, spec: Size) -> None:
    categories = list(CATEGORIES)
    start = ANCHOR.date() - timedelta(days=400)
    for n in range(spec.products):
        category = categories[n % len(categories)]
        brands, nouns = CATEGORIES[category]
        brand = rng.choice(brands)
        noun = rng.choice(nouns)
        price = _money(rng.uniform(4, 250))
        # Assortment per channel, with deliberate differences: 8 % online only, 6 % store only.
        roll = rng.random()
        channels = (
            ("WEB", "APP")
            if roll < 0.08
            else ("STORE",)
            if roll < 0.14
            else ("WEB", "APP", "STORE")
        )
        item = Item(
            no=f"{10000 + n}",
            description=f"{brand} {rng.choice(COLOURS)} {noun}",
            brand=brand,
            category=category,
            gtin=_ean13(rng),
            unit_price=price,
            base_unit="PCS",
            blocked=rng.random() < 0.01,
            channels=channels,
        )
        world.items.append(item)
        for channel in ("WEB", "APP", "STORE"):
            factor = {"WEB": rng.choice((1.0, 0.95, 0.9)), "APP": 0.95, "STORE": 1.0}[channel]
            world.prices.append(
                SalesPrice(item.no, channel, _money(float(price) * factor), "EUR", start)
            )
        if rng.random() < 0.12:
            pct = Decimal(rng.choice((10, 15, 20, 25, 30)))
            channel = rng.choice(("WEB", "APP", "STORE"))
            world.promotions.append(
                Promotion(
                    code=f"PR{n:05d}",
                    description=f"{pct}% off {item.description} ({channel.lower()})",
                    item_no=item.no,
                    discount_percent=pct,
                    channel=channel,
                    starting_date=ANCHOR.date() - timedelta(days=rng.randrange(1, 20)),
                    ending_date=ANCHOR.date() + timedelta(days=rng.randrange(60, 400)),
                )
            )


def _customers(world: World, rng: random.Random, spec: Size) -> None:
    areas = _residential_areas()
    for n in range(spec.customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        email = f"{local}{n}@{rng.choice(('example.nl', 'mail.example', 'post.example'))}"
        phone = _phone(rng)
        area = rng.choice(areas)
        address = Address(
            f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
            area.city,
            f"{area.postal_code} {chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}",
        )
        created = ANCHOR - timedelta(days=rng.randrange(30, 2000))
        in_crm = n % 29 != 7  # about 3 % are loyalty-only members the CRM has never seen
        has_erp = rng.random() < 0.7
        has_pos = rng.random() < 0.65 or not in_crm
        erp_no = f"C{20000 + n}" if has_erp else None
        card = _card_number(n) if has_pos else None
        if has_erp:
            typo = rng.random() < 0.08
            world.erp_customers.append(
                ErpCustomer(
                    no=erp_no or "",
                    name=f"{first} {_typo(rng, last) if typo else last}",
                    email=email.upper() if rng.random() < 0.1 else email,
                    phone=phone,
                    address=address,
                )
            )
        if has_pos:
            older_phone = rng.random() < 0.1
            pos_email = email if rng.random() < 0.8 else None
            pos_phone = _phone(rng) if older_phone else phone
            balance, lifetime = _loyalty_points(rng)
            world.pos_customers.append(
                PosCustomer(
                    id=f"SQC{n:06d}",
                    given_name=first,
                    family_name=last,
                    email=pos_email,
                    phone=pos_phone,
                    loyalty_account_id=f"LA{n:06d}",
                    card_number=card or "",
                    points=balance,
                    lifetime_points=lifetime,
                    enrolled_at=created + timedelta(days=rng.randrange(0, 30)),
                )
            )
        if in_crm:
            world.crm_contacts.append(
                CrmContact(
                    id=f"{1001 + n}",
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=phone,
                    address=address,
                    # The CRM misses one cross-reference in ten: found again by e-mail.
                    erp_customer_no=erp_no if rng.random() < 0.9 else None,
                    loyalty_card=card if rng.random() < 0.9 else None,
                    consents=[
                        Consent(
                            p,
                            rng.random() < 0.6,
                            ANCHOR.date() + timedelta(days=rng.randrange(-60, 700)),
                        )
                        for p in CONSENT_PURPOSES
                    ],
                    segments=rng.sample(SEGMENTS, k=rng.randrange(0, 3)),
                    created_at=created,
                    updated_at=created + timedelta(days=rng.randrange(0, 25)),
                )
            )


def _orders(world: World, rng: random.Random, spec: Size) -> None:
    sellable = {
        channel: [i for i in world.items if channel in i.channels and not i.blocked]
        for channel in ("WEB", "APP", "STORE")
    }
    price_of = {(p.item_no, p.channel): p.unit_price for p in world.prices}
    erp_nos = [c.no for c in world.erp_customers]
    pos_ids = [c.id for c in world.pos_customers]
    open_stores = [s.id for s in world.stores if s.active]
    for n in range(spec.orders):
        channel: Literal["WEB", "APP", "STORE"] = rng.choices(
            ("WEB", "APP", "STORE"), weights=(35, 20, 45)
        )[0]
        placed = ANCHOR - timedelta(minutes=rng.randrange(1, 730 * 24 * 60))
        items = rng.sample(sellable[channel], k=rng.randrange(1, 5))
        lines = [
            OrderLine(i.no, rng.choice((1, 1, 1, 2, 3)), price_of[(i.no, channel)]) for i in items
        ]
        if channel == "STORE":
            world.pos_orders.append(
                Order(
                    id=f"R{n:07d}",
                    system="pos",
                    channel=channel,
                    customer_ref=rng.choice(pos_ids) if rng.random() < 0.7 else None,
                    placed_at=placed,
                    status="COMPLETED",
                    location_id=rng.choice(open_stores),
                    lines=lines,
                )
            )
        else:
            recent = ANCHOR - placed < timedelta(days=5)
            world.erp_orders.append(
                Order(
                    id=f"SO{n:07d}",
                    system="erp",
                    channel=channel,
                    customer_ref=rng.choice(erp_nos),
                    placed_at=placed,
                    status=rng.choice(("PLACED", "SHIPPED"))
                    if recent
                    else rng.choice(ERP_STATUSES[2:]),
                    location_id=None,
                    lines=lines,
                )
            )


def _partners(world: World, rng: random.Random) -> None:
    """Some online orders come in through partners (a marketplace, a price comparison
    site's checkout), which later ask for their status. The ERP keeps whose an order
    is in a field of the order (``legacy/erp/seed.py``)."""
    for order in world.erp_orders:
        if rng.random() < PARTNER_SHARE:
            order.partner = rng.choice(PARTNERS)


def _stock(world: World, rng: random.Random) -> None:
    for item in world.items:
        online = "WEB" in item.channels or "APP" in item.channels
        for wh in world.warehouses:
            on_hand = rng.randrange(0, 300) if online and rng.random() < 0.8 else 0
            world.warehouse_stock.append(
                StockCount(item.no, wh.id, on_hand, min(on_hand, rng.randrange(0, 12)))
            )
        if "STORE" in item.channels:
            for store in world.stores:
                if rng.random() < 0.55:
                    on_hand = rng.randrange(0, 25)
                    world.store_stock.append(
                        StockCount(item.no, store.id, on_hand, min(on_hand, rng.randrange(0, 3)))
                    )
        if rng.random() < 0.15:
            places: list[Warehouse | Store] = [*world.warehouses, *world.stores]
            target = rng.choice(places)
            world.inbound.append(
                InboundShipment(
                    id=f"ASN{len(world.inbound) + 1:06d}",
                    item_no=item.no,
                    location_id=target.id,
                    quantity=rng.randrange(5, 120),
                    expected_at=ANCHOR + timedelta(hours=rng.randrange(6, 24 * 14)),
                )
            )


ONLINE_METHODS = ("IDEAL", "CARD", "PAYPAL", "KLARNA")
ONLINE_SHARES = (55, 75, 90, 100)  # cumulative: iDEAL 55 %, card 20 %, PayPal 15 %, Klarna
TILL_METHODS = ("PIN", "CARD", "CASH")
TILL_SHARES = (60, 75, 100)  # cumulative: PIN 60 %, card 15 %, cash 25 %
#: NAV return reason codes (Code[10], the length a client's reason is held to as well)
RETURN_REASONS = ("WRONG SIZE", "DEFECTIVE", "WRONG ITEM", "NOT WANTED")
ONLINE_RETURN_RATE = 0.03  # of delivered online orders; 45 % of them come back to a store
STORE_RETURN_RATE = 0.015  # of store receipts


def _payments(world: World, rng: random.Random) -> None:
    """A payment for every order, captured when it was placed (voided for a cancelled
    online order), then a few past returns with their refunds. The ERP's records are
    customer ledger entries, numbered as NAV numbers them (Entry No. 1, 2, ...)."""
    for n, order in enumerate(world.erp_orders, start=1):
        world.payments.append(
            Payment(
                id=str(n),
                system="erp",
                kind="PAYMENT",
                order_id=order.id,
                customer_ref=order.customer_ref,
                method=rng.choices(ONLINE_METHODS, cum_weights=ONLINE_SHARES)[0],
                amount=order.total,
                status="CANCELED" if order.status == "CANCELLED" else "COMPLETED",
                channel=order.channel,
                at=order.placed_at,
            )
        )
    for order in world.pos_orders:
        world.payments.append(
            Payment(
                id=f"PY{order.id[1:]}",
                system="pos",
                kind="PAYMENT",
                order_id=order.id,
                customer_ref=order.customer_ref,
                method=rng.choices(TILL_METHODS, cum_weights=TILL_SHARES)[0],
                amount=order.total,
                status="COMPLETED",
                channel="STORE",
                at=order.placed_at,
                location_id=order.location_id,
            )
        )
    _online_returns(world, rng)
    _store_returns(world, rng)


def _returned_lines(rng: random.Random, order: Order) -> list[OrderLine]:
    """Some of an order's lines, some of each line's pieces."""
    lines = rng.sample(order.lines, k=rng.randrange(1, len(order.lines) + 1))
    return [
        OrderLine(line.item_no, rng.randrange(1, line.quantity + 1), line.unit_price)
        for line in lines
    ]


def _online_returns(world: World, rng: random.Random) -> None:
    """Returns of delivered online orders: by post, refunded by the ERP; or brought to
    a store, refunded by the ERP to the original payment and recorded by the POS."""
    paid = {p.order_id: p for p in world.payments if p.system == "erp"}
    open_stores = [s.id for s in world.stores if s.active]
    for order in world.erp_orders:
        if order.status != "DELIVERED" or rng.random() >= ONLINE_RETURN_RATE:
            continue
        returned_at = order.placed_at + timedelta(days=rng.randrange(2, 28))
        in_store = rng.random() < 0.45
        location = rng.choice(open_stores) if in_store else None
        reason = rng.choice(RETURN_REASONS)
        if returned_at >= ANCHOR or order.customer_ref is None:
            continue
        back = Return(
            id=f"SR{len(world.returns) + 1:07d}",
            order_id=order.id,
            customer_ref=order.customer_ref,
            channel="STORE" if in_store else order.channel,
            location_id=location,
            returned_at=returned_at,
            reason=reason,
            lines=_returned_lines(rng, order),
        )
        world.returns.append(back)
        erp_id = str(len(world.erp_orders) + len(world.returns))  # the next ledger entry
        pos_id = f"RF{len(world.payments):07d}" if in_store else None
        refund = Payment(
            id=erp_id,
            system="erp",
            kind="REFUND",
            order_id=order.id,
            customer_ref=order.customer_ref,
            method=paid[order.id].method,
            amount=-back.total,
            status="COMPLETED",
            channel=back.channel,
            at=returned_at,
            location_id=location,
            refund_of=paid[order.id].id,
            return_id=back.id,
            mirror_id=pos_id,
            reason=reason,
        )
        world.payments.append(refund)
        if pos_id is not None:
            world.payments.append(
                Payment(
                    id=pos_id,
                    system="pos",
                    kind="REFUND",
                    order_id=order.id,
                    customer_ref=None,
                    method=refund.method,
                    amount=refund.amount,
                    status="COMPLETED",
                    channel="STORE",
                    at=returned_at,
                    location_id=location,
                    return_id=back.id,
                    mirror_id=erp_id,
                    reason=reason,
                )
            )


def _store_returns(world: World, rng: random.Random) -> None:
    """Store receipts brought back, mostly to the same store: refunded at the till
    against the receipt's payment, in the same way it was paid."""
    paid = {p.order_id: p for p in world.payments if p.system == "pos"}
    open_stores = [s.id for s in world.stores if s.active]
    for order in world.pos_orders:
        if rng.random() >= STORE_RETURN_RATE:
            continue
        returned_at = order.placed_at + timedelta(days=rng.randrange(1, 28))
        location = order.location_id if rng.random() < 0.8 else rng.choice(open_stores)
        reason = rng.choice(RETURN_REASONS)
        lines = _returned_lines(rng, order)
        if returned_at >= ANCHOR:
            continue
        payment = paid[order.id]
        world.payments.append(
            Payment(
                id=f"RF{len(world.payments):07d}",
                system="pos",
                kind="REFUND",
                order_id=order.id,
                customer_ref=order.customer_ref,
                method=payment.method,
                amount=-sum((li.unit_price * li.quantity for li in lines), Decimal("0")),
                status="COMPLETED",
                channel="STORE",
                at=returned_at,
                location_id=location,
                refund_of=payment.id,
                reason=reason,
            )
        )
