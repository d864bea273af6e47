/**
 * A shopping cart as an entity workflow: one long-lived workflow per customer's cart. Items are
 * added and removed by update (the caller gets the cart back, or an error if the item cannot be
 * added), checkout is a signal. To keep each run's history short, the cart continues as new after
 * every `eventsPerRun` changes, carrying its contents to the next run; the cart's workflow id and
 * its client handle stay the same throughout, and so do its search attributes (the next run starts
 * with this run's), which keep the cart's value for `client.workflow.list()`.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from 'keel/workflow';
import type { ShopActivities } from './activities.ts';

export interface CartLine {
  sku: string;
  name: string;
  unitCents: number;
  quantity: number;
}

export interface CartOptions {
  customerId: string;
  /** Changes handled by one run before it continues as new. @defaultValue 100 */
  eventsPerRun?: number;
}

/** What one run hands to the next. */
export interface CarriedCart {
  lines: CartLine[];
  /** Changes handled by all runs so far. */
  changes: number;
  /** 1 for the cart's first run. */
  run: number;
}

export interface CartView extends CarriedCart {
  totalCents: number;
  checkedOut: boolean;
}

export interface Receipt {
  orderId: string;
  lines: CartLine[];
  totalCents: number;
  /** How many runs the cart lived through. */
  runs: number;
}

export const addItem = defineUpdate<CartView, [sku: string, quantity: number]>('addItem');
export const removeItem = defineUpdate<CartView, [sku: string, quantity?: number]>('removeItem');
export const checkout = defineSignal('checkout');
export const getCart = defineQuery<CartView>('getCart');

const { lookUpProduct, placeOrder } = proxyActivities<ShopActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', maximumAttempts: 3 },
});

const totalOf = (lines: CartLine[]) =>
  lines.reduce((sum, line) => sum + line.unitCents * line.quantity, 0);

export async function shoppingCart(options: CartOptions, carried?: CarriedCart): Promise<Receipt> {
  const eventsPerRun = options.eventsPerRun ?? 100;
  const cart: CarriedCart = carried ?? { lines: [], changes: 0, run: 1 };
  let changesThisRun = 0;
  let checkedOut = false;
  const view = (): CartView => ({ ...cart, totalCents: totalOf(cart.lines), checkedOut });
  const open = () => {
    if (checkedOut) throw new Error('the cart is checked out');
  };

  /** Each change is also indexed, so the shop can list carts by value (`CartValueCents > 100000`). */
  const changed = (): CartView => {
    upsertSearchAttributes({ CartValueCents: { type: 'Int', value: totalOf(cart.lines) } });
    return view();
  };

  setHandler(getCart, view);
  setHandler(
    addItem,
    async (sku, quantity) => {
      const product = await lookUpProduct(sku); // an unknown SKU fails this update, not the cart
      changesThisRun++;
      cart.changes++;
      const line = cart.lines.find((l) => l.sku === sku);
      if (line) line.quantity += quantity;
      else cart.lines.push({ sku, name: product.name, unitCents: product.cents, quantity });
      return changed();
    },
    {
      validator: (sku, quantity) => {
        open();
        if (!Number.isSafeInteger(quantity) || quantity < 1)
          throw new RangeError(`quantity must be a whole number of at least 1, not ${quantity}`);
      },
    },
  );
  setHandler(
    removeItem,
    (sku: string, quantity?: number) => {
      changesThisRun++;
      cart.changes++;
      const line = cart.lines.find((l) => l.sku === sku)!;
      line.quantity -= quantity ?? line.quantity;
      if (line.quantity <= 0) cart.lines = cart.lines.filter((l) => l !== line);
      return changed();
    },
    {
      validator: (sku: string, quantity?: number) => {
        open();
        if (!cart.lines.some((l) => l.sku === sku)) throw new Error(`${sku} is not in the cart`);
        if (quantity !== undefined && (!Number.isSafeInteger(quantity) || quantity < 1))
          throw new RangeError(`quantity must be a whole number of at least 1, not ${quantity}`);
      },
    },
  );
  setHandler(checkout, () => {
    checkedOut = true;
  });

  await condition(
    () => checkedOut || changesThisRun >= eventsPerRun || workflowInfo().continueAsNewSuggested,
  );
  // Let a handler that is still looking up a product finish before this run ends.
  await condition(allHandlersFinished);
  if (!checkedOut) {
    return continueAsNew<typeof shoppingCart>(options, { ...cart, run: cart.run + 1 });
  }
  const totalCents = totalOf(cart.lines);
  const orderId = await placeOrder(options.customerId, cart.lines, totalCents);
  return { orderId, lines: cart.lines, totalCents, runs: cart.run };
}
