// A screen's data layer written against the generated types: the compiler checks the
// operation's shape, the scalars' types and that every order status has a label. The
// operations are the gateway's reference operations (gateway/operations/*.graphql),
// generated into typed documents: what is sent is what the tests count calls for.
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  OrderHistoryDocument,
  ReturnDeskDocument,
  type OrderHistoryQuery,
  type OrderHistoryQueryVariables,
  type OrderStatus,
  type ReturnDeskQuery,
} from "./generated/graphql";

type History = NonNullable<NonNullable<OrderHistoryQuery["customer"]>["orderHistory"]>;
export type OrderRow = History["edges"][number]["node"];
type DeskLine = NonNullable<ReturnDeskQuery["order"]>["lines"][number];

/** Any operation, typed by its document: its variables in, its result out. */
export async function request<Result, Variables>(
  endpoint: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  headers: Record<string, string> = {},
): Promise<Result> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: unknown[] };
  if (!body.data) throw new Error(`no data: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** One page of the history; `after` is the previous page's `pageInfo.endCursor`. */
export function orderHistoryPage(
  endpoint: string,
  variables: OrderHistoryQueryVariables,
): Promise<OrderHistoryQuery> {
  return request(endpoint, OrderHistoryDocument, variables);
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

/** The return desk's question: which lines of the order can still come back, how many. */
export async function returnable(
  endpoint: string,
  orderId: string,
  headers: Record<string, string> = {},
): Promise<{ sku: string; pieces: number }[]> {
  const found = await request(endpoint, ReturnDeskDocument, { orderId }, headers);
  const lines: DeskLine[] = found.order?.lines ?? [];
  return lines
    .filter((line) => (line.returnableQuantity ?? 0) > 0)
    .map((line) => ({ sku: line.sku, pieces: line.returnableQuantity ?? 0 }));
}
