/**
 * The shop's side: a price catalogue and the order desk. A worker registers
 * `createActivities(shop)`; placed orders are kept in `shop.orders`.
 */
import { ApplicationFailure } from 'keel/activity';
import type { CartLine } from './workflows.ts';

export interface Shop {
  /** Name and unit price in cents, by SKU. */
  catalogue: Record<string, { name: string; cents: number }>;
  orders: { orderId: string; customerId: string; lines: CartLine[]; totalCents: number }[];
}

export function createActivities(shop: Shop) {
  return {
    async lookUpProduct(sku: string): Promise<{ name: string; cents: number }> {
      const product = shop.catalogue[sku];
      if (!product) throw ApplicationFailure.nonRetryable(`no product ${sku}`, 'UnknownProduct');
      return product;
    },
    async placeOrder(customerId: string, lines: CartLine[], totalCents: number): Promise<string> {
      const orderId = `order-${customerId}-${shop.orders.length + 1}`;
      shop.orders.push({ orderId, customerId, lines, totalCents });
      return orderId;
    },
  };
}

export type ShopActivities = ReturnType<typeof createActivities>;
