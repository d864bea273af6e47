/**
 * The shopping-cart entity: updates change the cart across several continue-as-new runs (three
 * changes per run here), the contents survive each hand-over, and checkout orders the right total.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowHandle } from 'keel/client';
import { WorkflowUpdateFailedError } from '../../src/common/errors.ts';
import { expectInstance } from '../fixtures/expect-instance.ts';
import { withTestEnv, type TestEnv } from '../helpers/env.ts';
import { within } from '../fixtures/integration-support.ts';
import { createActivities, type Shop } from '../../examples/shopping-cart/activities.ts';
import * as workflows from '../../examples/shopping-cart/workflows.ts';
import {
  addItem,
  checkout,
  getCart,
  removeItem,
  shoppingCart,
  type CartLine,
} from '../../examples/shopping-cart/workflows.ts';

const catalogue = {
  kayak: { name: 'Sea kayak', cents: 899_00 },
  paddle: { name: 'Paddle', cents: 79_50 },
  vest: { name: 'Buoyancy vest', cents: 64_00 },
  helmet: { name: 'Helmet', cents: 39_90 },
};

async function startCart(env: TestEnv, shop: Shop, workflowId: string) {
  await env.startWorker({ workflows, activities: createActivities(shop) });
  return env.client.workflow.start(shoppingCart, {
    taskQueue: env.taskQueue,
    workflowId,
    args: [{ customerId: 'c-42', eventsPerRun: 3 }],
    searchAttributes: { CustomerId: { type: 'Keyword', value: 'c-42' } },
  });
}

const line = (sku: keyof typeof catalogue, quantity: number): CartLine => ({
  sku,
  name: catalogue[sku].name,
  unitCents: catalogue[sku].cents,
  quantity,
});

/** The runs of a workflow id, oldest first, with their statuses. */
async function runsOf(env: TestEnv, workflowId: string) {
  const runs = [];
  for await (const run of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push(run);
  return runs.reverse();
}

async function refused(handle: WorkflowHandle, promise: Promise<unknown>): Promise<Error> {
  const error = await within(2_000, 'the refused update', promise).then(
    (value) => assert.fail(`the update should fail; it returned ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expectInstance(error, WorkflowUpdateFailedError, `${String(error)} (${handle.workflowId})`);
  return error;
}

test('the cart survives several continue-as-new and checkout orders the right total', async () => {
  await withTestEnv(async (env) => {
    const shop: Shop = { catalogue, orders: [] };
    const handle = await startCart(env, shop, 'cart-1');

    // Run 1: three changes, then the cart continues as new.
    await handle.executeUpdate(addItem, { args: ['kayak', 1] });
    await handle.executeUpdate(addItem, { args: ['paddle', 2] });
    const afterRun1 = await handle.executeUpdate(addItem, { args: ['vest', 2] });
    assert.equal(afterRun1.run, 1);
    assert.equal(afterRun1.totalCents, 899_00 + 2 * 79_50 + 2 * 64_00);

    // Run 2 starts with run 1's cart.
    const carried = await handle.query(getCart);
    assert.equal(carried.run, 2);
    assert.deepEqual(carried.lines, [line('kayak', 1), line('paddle', 2), line('vest', 2)]);
    assert.equal(carried.changes, 3);

    await handle.executeUpdate(removeItem, { args: ['paddle', 1] });
    await handle.executeUpdate(addItem, { args: ['helmet', 1] });
    await handle.executeUpdate(removeItem, { args: ['vest'] }); // the whole line
    // Run 3.
    await handle.executeUpdate(addItem, { args: ['kayak', 1] });
    await handle.executeUpdate(addItem, { args: ['helmet', 1] });
    await handle.executeUpdate(removeItem, { args: ['helmet', 1] });
    // Run 4.
    const before = await handle.executeUpdate(addItem, { args: ['paddle', 1] });
    assert.equal(before.run, 4);
    assert.equal(before.changes, 10);

    // The search attributes (set at start, upserted on each change) follow the cart to its current run.
    const found = [];
    for await (const run of env.client.workflow.list({
      query: "CustomerId = 'c-42' AND CartValueCents > 100000 AND ExecutionStatus = 'Running'",
    }))
      found.push(run);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.workflowId, 'cart-1');
    assert.deepEqual(found[0]?.searchAttributes, {
      CustomerId: { type: 'Keyword', value: 'c-42' },
      CartValueCents: { type: 'Int', value: before.totalCents },
    });
    assert.equal(
      (await env.client.workflow.count({ query: "CustomerId = 'c-42'" })).count,
      4,
      'every run of the cart carries the customer',
    );

    await handle.signal(checkout);
    const receipt = await within(10_000, 'the receipt', handle.result());
    const lines = [line('kayak', 2), line('paddle', 2), line('helmet', 1)];
    const total = 2 * 899_00 + 2 * 79_50 + 39_90;
    assert.deepEqual(receipt, { orderId: 'order-c-42-1', lines, totalCents: total, runs: 4 });
    assert.deepEqual(shop.orders, [
      { orderId: 'order-c-42-1', customerId: 'c-42', lines, totalCents: total },
    ]);

    const runs = await runsOf(env, 'cart-1');
    assert.deepEqual(
      runs.map((r) => r.status),
      ['ContinuedAsNew', 'ContinuedAsNew', 'ContinuedAsNew', 'Completed'],
    );
    assert.equal(runs[0]?.runId, handle.firstExecutionRunId);
    // Each run hands its cart to the next: the next run's input is the cart as it was.
    const second = await env.client.workflow.getHandle('cart-1', runs[1]!.runId).fetchHistory();
    const started = second.events[0];
    assert.equal(started?.eventType, 'WorkflowExecutionStarted');
    assert.deepEqual(started.eventType === 'WorkflowExecutionStarted' && started.attributes.input, [
      { customerId: 'c-42', eventsPerRun: 3 },
      { lines: [line('kayak', 1), line('paddle', 2), line('vest', 2)], changes: 3, run: 2 },
    ]);
  });
});

test('an unknown product fails the update, not the cart, and does not count as a change', async () => {
  await withTestEnv(async (env) => {
    const shop: Shop = { catalogue, orders: [] };
    const handle = await startCart(env, shop, 'cart-2');
    await handle.executeUpdate(addItem, { args: ['kayak', 1] });
    const error = await refused(handle, handle.executeUpdate(addItem, { args: ['canoe', 1] }));
    assert.match(error.message, /failed: .*/);
    assert.match(String((error.cause as Error | undefined)?.cause), /no product canoe/);
    const cart = await handle.query(getCart);
    assert.deepEqual(cart.lines, [line('kayak', 1)]);
    assert.equal(cart.changes, 1);
    await handle.signal(checkout);
    const receipt = await within(10_000, 'the receipt', handle.result());
    assert.equal(receipt.totalCents, 899_00);
    assert.equal(receipt.runs, 1);
  });
});

test(
  'changes the validators refuse (a missing line, a zero quantity) change nothing',
  {},
  async () => {
    await withTestEnv(async (env) => {
      const shop: Shop = { catalogue, orders: [] };
      const handle = await startCart(env, shop, 'cart-3');
      try {
        await handle.executeUpdate(addItem, { args: ['vest', 1] });
        const missing = await refused(
          handle,
          handle.executeUpdate(removeItem, { args: ['kayak'] }),
        );
        assert.match(missing.message, /kayak is not in the cart/);
        const zero = await refused(handle, handle.executeUpdate(addItem, { args: ['paddle', 0] }));
        assert.match(zero.message, /at least 1, not 0/);
        assert.equal((await handle.query(getCart)).changes, 1);
        const { events } = await handle.fetchHistory();
        assert.equal(
          events.filter((e) => e.eventType === 'WorkflowExecutionUpdateAccepted').length,
          1,
        );
      } finally {
        await handle.terminate('test over');
      }
    });
  },
);
