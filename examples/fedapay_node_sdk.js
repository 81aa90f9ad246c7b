// Drive Cauri's FedaPay simulator with FedaPay's official Node SDK (npm package fedapay, checked with 1.2.5):
// a transaction without customer pushed with phone_number (approved, then declined), sendNow, a payout created
// and started, the balances. The simulator must be running:
//   cauri simulate fedapay --port 8091 --settle 0.05
//   npm install fedapay@1.2.5 && node examples/fedapay_node_sdk.js http://127.0.0.1:8091
const { FedaPay, Transaction, Payout, Balance } = require('fedapay');
const base = process.argv[2];
FedaPay.setApiKey('sk_sandbox_cauri');
FedaPay.setApiBase(base);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  // A transaction without customer, then the push naming the phone (sendNowWithToken with phone_number).
  for (const [phone, expected] of [['+2290197000100', 'approved'], ['+2290197000902', 'declined']]) {
    const trx = await Transaction.create({ description: 'Commande SDK', amount: 2000, currency: { iso: 'XOF' } });
    console.log('created', trx.id, trx.status, 'customer_id', trx.customer_id, 'currency_id', trx.currency_id, 'key', !!trx.transaction_key);
    const token = await trx.generateToken();
    console.log('token', !!token.token, token.url);
    const sent = await trx.sendNowWithToken('mtn_open', token.token, { phone_number: { number: phone, country: 'bj' } });
    console.log('sent', sent.message || JSON.stringify(sent));
    let t;
    for (let i = 0; i < 100; i++) { t = await Transaction.retrieve(trx.id); if (t.status !== 'pending') break; await sleep(50); }
    console.log('final', t.status, 'expected', expected, 'wasPaid', t.wasPaid(), 'approved_at', t.approved_at, 'declined_at', t.declined_at, 'fees', t.fees);
  }
  const trx2 = await Transaction.create({ description: 'Commande 2', amount: 1000, currency: { iso: 'XOF' },
    customer: { firstname: 'Awa', lastname: 'Diallo', phone_number: { number: '+22879000100', country: 'tg' } } });
  const s2 = await trx2.sendNow('moov_tg');
  console.log('sendNow (token then mode)', JSON.stringify(s2).slice(0, 80));
  const payout = await Payout.create({ amount: 1500, currency: { iso: 'XOF' }, mode: 'moov_tg',
    customer: { firstname: 'Kofi', lastname: 'Mensah', phone_number: { number: '+22879000100', country: 'tg' } } });
  console.log('payout', payout.id, payout.status);
  await payout.sendNow();
  console.log('started', payout.status, payout.started_at);
  let p;
  for (let i = 0; i < 100; i++) { p = await Payout.retrieve(payout.id); if (p.status === 'sent' || p.status === 'failed') break; await sleep(50); }
  console.log('payout final', p.status, p.sent_at);
  const balances = await Balance.all();
  console.log('balances', balances.balances.length, balances.balances[0].amount, balances.balances[0].currency_id);
})().catch((e) => { console.error('ERROR', e.message, e.httpResponse ? JSON.stringify(e.httpResponse.data) : ''); process.exit(1); });
