export interface Order {
  orderId: string;
  sku: string;
  quantity: number;
  amountCents: number;
  card: string;
  address: string;
}

export interface OrderResult {
  orderId: string;
  reservation: string;
  charge: string;
  trackingNumber: string;
}
