// A screen's data layer written against the generated types: the compiler checks the
// operation's shape, the scalars' types and that every order status has a label.
import type {
  OrderHistoryQuery,
  OrderHistoryQueryVariables,
  OrderStatus,
} from "./generated/graphql";

type History = NonNullable<NonNullable<OrderHistoryQuery["customer"]>["orderHistory"]>;
export type OrderRow = History["edges"][number]["node"];

/** The order history screen: a customer's orders from every channel, a page at a time.
 * graphql-codegen finds the operation by its GraphQL comment. */
export const ORDER_HISTORY = /* GraphQL */ `
  query OrderHistory($card: String!, $first: Int!, $after: String) {
    customer(by: { loyaltyCard: $card }) {
      id
      name
      orderHistory(first: $first, after: $after) {
        edges {
          cursor
          node {
            id
            channel
            status
            placedAt
            total {
              amount
              currency
            }
            lines {
              sku
              quantity
              returnableQuantity
              product {
                name
              }
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`;

/** One page of the history; `after` is the previous page's `pageInfo.endCursor`. */
export async function orderHistoryPage(
  endpoint: string,
  variables: OrderHistoryQueryVariables,
  headers: Record<string, string> = {},
): Promise<OrderHistoryQuery> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify({ query: ORDER_HISTORY, variables }),
  });
  const body = (await response.json()) as { data?: OrderHistoryQuery; errors?: unknown[] };
  if (!body.data) throw new Error(`no data: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** What the shopper reads for each state: a new state fails to compile until it has one. */
export function statusLabel(status: OrderStatus): string {
  switch (status) {
    case "PLACED":
      return "Received";
    case "PROCESSING":
      return "Being picked";
    case "PARTIALLY_SHIPPED":
      return "Partly on its way";
    case "SHIPPED":
      return "On its way";
    case "COMPLETED":
      return "Delivered";
    case "CANCELLED":
      return "Cancelled";
    case "OPEN":
    case "DRAFT":
      return "At the till";
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

/** Money stays decimal text end to end (a float would turn 0.10 + 0.20 into 0.30000000000000004). */
export function price(money: OrderRow["total"]): string {
  if (!money) return "";
  const amount: string = money.amount;
  return `${money.currency} ${amount}`;
}

/** An order's lines that can still come back (the return desk's question). */
export function returnable(order: OrderRow): { sku: string; pieces: number }[] {
  return order.lines
    .filter((line) => (line.returnableQuantity ?? 0) > 0)
    .map((line) => ({ sku: line.sku, pieces: line.returnableQuantity ?? 0 }));
}
