// The peer's one-round `Query.products`: the few lines a retailer's team would add to a
// Mesh supergraph so a product list costs one round of batched calls, all in parallel:
// the item cards (one NAV ReadMultiple with the SKUs in NAV's `a|b|c` filter, which
// @resolveTo batching cannot write), the WMS's stock (one batch query), Square's store
// stock (chunks of SKUs that fit one page of 1,000 counts, in parallel; a cursor still
// followed) and, when asked, the channel's prices and line discounts (one ReadMultiple
// each). Every call goes through the composed sources (the in-context SDK), so the
// gateway's transports, retries and JIT apply to them as to any field.
//
// Mosaic's shapes and rules are followed where the compared queries show them: location
// ids `warehouse:<site>` and `store:<location>`; a store's on hand is Square's IN_STOCK
// plus RESERVED_FOR_SALE, its reserved the latter; the price in force today of the
// channel's customer price group, else the item card's unit price, less the largest line
// discount of the channel's discount group running today (to the cent, half up, as NAV
// rounds a sales line); the promotions are those line discounts.

const PAGE = 1000; // Square's largest page of inventory counts; NAV's page read here
const STATES = ['IN_STOCK', 'RESERVED_FOR_SALE'];
//: the channels' price and discount groups (each named after its channel, as Mosaic's default)
const CHANNEL_GROUPS = 'WEB|APP|STORE';
//: SKUs per Square call, planned as Mosaic plans them: a row per item at each of the
//: merchant's stores (RESERVED_FOR_SALE rows exist only where goods were held; a page
//: that fills anyway has its cursor followed). PEER_POS_STORES: bench/peer.py passes the
//: simulated world's.
const SKUS_PER_COUNT_CALL = Math.max(1, Math.floor(PAGE / Number(process.env.PEER_POS_STORES || 25)));

const literal = value => (/[|&<>=*@()'.\s]/.test(value) || !value ? `'${value.replaceAll("'", "''")}'` : value);
const anyOf = values => [...new Set(values)].map(literal).join('|');
const chunks = (items, size) => {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};
const today = () => new Date().toISOString().slice(0, 10);
const noDate = value => !value || value.startsWith('0001-01-01');

async function navRows(context, info, page, filter, fields) {
  const rows = [];
  let bookmarkKey;
  for (;;) {
    const result = await context.ERP.Query[`${page}_ReadMultiple`]({
      root: {},
      context,
      info,
      args: { ReadMultiple: { filter, ...(bookmarkKey ? { bookmarkKey } : {}), setSize: PAGE } },
      selectionSet: `{ ReadMultiple_Result { ${page} { Key ${fields} } } }`,
    });
    const batch = result?.ReadMultiple_Result?.[page] ?? [];
    rows.push(...batch);
    if (batch.length < PAGE) return rows;
    bookmarkKey = batch[batch.length - 1].Key;
  }
}

async function storeCounts(context, info, skus) {
  const counts = [];
  let cursor;
  for (;;) {
    const input = { catalog_object_ids: skus, states: STATES, limit: PAGE, ...(cursor ? { cursor } : {}) };
    const page = await context.POS.Query.BatchRetrieveInventoryCounts({
      root: {},
      context,
      info,
      args: { input },
      selectionSet: '{ counts { catalog_object_id location_id state quantity } cursor }',
    });
    counts.push(...(page?.counts ?? []));
    cursor = page?.cursor;
    if (!cursor) return counts;
  }
}

//: the channel pages Product's fields read: page, the item's field, fixed filters, fields
const CHANNEL_PAGES = {
  price: {
    page: 'SalesPrices',
    item: 'Item_No',
    fixed: { Sales_Type: 'Customer_Price_Group' },
    fields: 'Item_No Sales_Code Unit_Price Starting_Date Ending_Date Currency_Code Minimum_Quantity',
  },
  promotions: {
    page: 'SalesLineDiscounts',
    item: 'Code',
    fixed: { Type: 'Item', Sales_Type: 'Customer_Disc_Group' },
    fields: 'Code Sales_Code Line_Discount_Percent Starting_Date Ending_Date Currency_Code',
  },
};

function channelLines(context, info, field, keys) {
  // the lines of the asked items for the channels' groups: one ReadMultiple
  const { page, item, fixed, fields } = CHANNEL_PAGES[field];
  const filter = [
    { Field: item, Criteria: anyOf(keys) },
    ...Object.entries(fixed).map(([name, value]) => ({ Field: name, Criteria: value })),
    { Field: 'Sales_Code', Criteria: CHANNEL_GROUPS },
  ];
  return navRows(context, info, page, filter, fields);
}

function storeLevels(counts) {
  const levels = new Map();
  for (const count of counts) {
    const key = `${count.catalog_object_id}\u0000${count.location_id}`;
    let level = levels.get(key);
    if (!level) {
      level = { sku: count.catalog_object_id, location: { id: `store:${count.location_id}` }, onHand: 0, reserved: 0 };
      levels.set(key, level);
    }
    const quantity = Number(count.quantity);
    level.onHand += quantity;
    if (count.state === 'RESERVED_FOR_SALE') level.reserved += quantity;
  }
  return [...levels.values()];
}

function bySku(rows, sku) {
  const grouped = new Map();
  for (const row of rows) {
    const key = sku(row);
    if (!grouped.has(key)) grouped.set(key, []);
    grouped.get(key).push(row);
  }
  return grouped;
}

function selected(info) {
  // which of Product's fields the query asks for (one level, fragments included)
  const fields = new Set();
  const walk = selectionSet => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === 'Field') fields.add(selection.name.value);
      else if (selection.kind === 'InlineFragment') walk(selection.selectionSet);
      else if (selection.kind === 'FragmentSpread') walk(info.fragments[selection.name.value]?.selectionSet);
    }
  };
  for (const node of info.fieldNodes) walk(node.selectionSet);
  return fields;
}

async function products(_root, { skus }, context, info) {
  const wanted = selected(info);
  const keys = [...new Set(skus)];
  const items = navRows(context, info, 'ItemCard', [{ Field: 'No', Criteria: anyOf(keys) }], 'No Description Unit_Price');
  const warehouse = wanted.has('stock')
    ? context.WMS.Query.queryStock({
        root: {},
        context,
        info,
        args: { input: { skus: keys } },
        selectionSet: '{ stock { sku site on_hand reserved } }',
      })
    : null;
  const stores = wanted.has('stock')
    ? Promise.all(chunks(keys, SKUS_PER_COUNT_CALL).map(chunk => storeCounts(context, info, chunk)))
    : null;
  const prices = wanted.has('price') ? channelLines(context, info, 'price', keys) : null;
  const discounts = wanted.has('promotions') || wanted.has('price') ? channelLines(context, info, 'promotions', keys) : null;
  const [cards, warehouseStock, storeStock, priceRows, discountRows] = await Promise.all([
    items,
    warehouse,
    stores,
    prices,
    discounts,
  ]);
  const card = new Map(cards.map(row => [row.No, row]));
  const levels = bySku(
    [
      ...(warehouseStock?.stock ?? []).map(row => ({
        sku: row.sku,
        location: { id: `warehouse:${row.site}` },
        onHand: row.on_hand,
        reserved: row.reserved,
      })),
      ...storeLevels((storeStock ?? []).flat()),
    ],
    level => level.sku,
  );
  const pricesOf = bySku(priceRows ?? [], row => row[CHANNEL_PAGES.price.item]);
  const discountsOf = bySku(discountRows ?? [], row => row[CHANNEL_PAGES.promotions.item]);
  return skus.map(sku => {
    const row = card.get(sku);
    if (!row) return null;
    return {
      sku,
      name: row.Description || null,
      listPrice: row.Unit_Price,
      stock: levels.get(sku) ?? [],
      prices: pricesOf.get(sku) ?? [],
      discounts: discountsOf.get(sku) ?? [],
    };
  });
}

function inForce(row, day) {
  return (noDate(row.Starting_Date) || row.Starting_Date <= day) && (noDate(row.Ending_Date) || day <= row.Ending_Date);
}

function price(product, { channel }) {
  // the channel's price group's line in force today with the latest start, else the card's
  const day = today();
  const lines = product.prices.filter(
    row => row.Sales_Code === channel && !row.Currency_Code && Number(row.Minimum_Quantity || 0) <= 1 && inForce(row, day),
  );
  lines.sort((a, b) => (noDate(a.Starting_Date) ? '' : a.Starting_Date).localeCompare(noDate(b.Starting_Date) ? '' : b.Starting_Date));
  const chosen = lines.length ? lines[lines.length - 1].Unit_Price : product.listPrice;
  if (!chosen) return null;
  const best = Math.max(0, ...promotions(product, { channel }).map(p => p.discountPercent));
  return { amount: best > 0 ? discounted(chosen, String(best)) : chosen, currency: 'EUR' };
}

// `amount` less `percent` %, to the cent, half up, in exact decimal arithmetic
function discounted(amount, percent) {
  const [units, scale] = decimal(amount);
  const [pct, pctScale] = decimal(percent);
  const numerator = units * (100n * pctScale - pct) * 100n;
  const denominator = scale * 100n * pctScale;
  const cents = (2n * numerator + denominator) / (2n * denominator);
  return `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;
}

// a decimal text as an integer and its power of ten: '12.5' -> [125n, 10n]
function decimal(text) {
  const [whole, fraction = ''] = String(text).split('.');
  return [BigInt(whole + fraction), 10n ** BigInt(fraction.length)];
}

function promotions(product, { channel }) {
  const day = today();
  return product.discounts
    .filter(row => row.Sales_Code === channel && !row.Currency_Code && inForce(row, day))
    .map(row => ({
      discountPercent: Number(row.Line_Discount_Percent),
      ends: noDate(row.Ending_Date) ? null : row.Ending_Date,
    }));
}

export const resolvers = {
  Query: { products },
  Product: { price, promotions },
};
