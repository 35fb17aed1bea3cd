#!/usr/bin/env bash
# A narrated tour of migtool on the example project, on fresh SQLite databases.
# Run it with `make demo` (which sets up the virtualenv and puts it on PATH).
set -euo pipefail

cd "$(dirname "$0")/shopsite"
# Bold headings only on a terminal, and never with NO_COLOR set by the user (https://no-color.org).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
export DJANGO_SETTINGS_MODULE=shopsite.settings NO_COLOR=1
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# Run a command and check its exit code: the demo fails loudly if migtool misbehaves.
expect() {
  local want=$1; shift
  printf '$ %s\n' "$*"
  local got=0
  "$@" || got=$?
  if [ "$got" != "$want" ]; then echo "demo: expected exit $want, got $got" >&2; exit 1; fi
  [ "$want" = 0 ] || echo "(exit $got, as expected)"
}
django() { python manage.py "$@" -v 0; }

say "The releases frozen in examples/shopsite/releases/ (committed with the code)"
expect 0 migtool releases

say "What each release added: 1.1.0 brings a merge, a new app and a nullable column; 2.0.0 a squash"
expect 0 migtool diff 1.0.0 1.1.0
expect 0 migtool diff 1.1.0 2.0.0
say "The code on disk is exactly release 2.0.0 (--check exits 1 on any difference)"
expect 0 migtool diff 2.0.0 --check

say "Deploy 2.0.0 on a fresh database, then ask: can we roll back to 1.1.0?"
export SHOPSITE_SQLITE_PATH="$workdir/full.sqlite3"
django migrate
expect 0 migtool status
echo "No: catalog.0005 is a RunPython without reverse_code. migtool refuses before touching anything:"
expect 4 migtool rollback 1.1.0 --dry-run

say "A second database: 1.1.0 plus part of 2.0.0 (orders.0004 and the billing squash)"
export SHOPSITE_SQLITE_PATH="$workdir/partial.sqlite3"
django migrate contenttypes
django migrate orders 0004_order_shipped_at
django migrate catalog 0004_merge_product_price_stock
django migrate billing 0001_squashed_0002_invoice_paid
echo "A customer places an order without a note (allowed since 1.1.0: the column is nullable)."
django shell -c "from catalog.models import Product; from orders.models import Order
Order.objects.create(product=Product.objects.create(name='Demo', sku='demo-1'), quantity=1, note=None)"
expect 0 migtool status
echo "Back to 1.1.0 means splitting the billing squash: migtool plans over its originals."
expect 0 migtool rollback 1.1.0 --yes
expect 0 migtool status

say "Now back to 1.0.0: reverting orders.0003 restores NOT NULL on orders_order.note,"
say "and that order's note is NULL - migtool predicts the failure before touching anything"
expect 4 migtool rollback 1.0.0 --dry-run

say "Fix the data, then roll back: the merge's parallel branch (catalog.0003_product_stock)"
say "and orders.0002 that depends on it go too - 'migrate catalog 0002' would leave them applied"
django shell -c "from orders.models import Order; Order.objects.filter(note=None).update(note='')"
expect 0 migtool rollback 1.0.0 --yes
expect 0 migtool status

say "The next release has a broken migration. migrate-safe applies 1.1.0, 2.0.0 and it as one"
say "batch (a copy of the project stands for the next release's code)"
next="$workdir/next"
cp -r . "$next"
cat > "$next/orders/migrations/0005_broken.py" <<'EOF'
from django.db import migrations


class Migration(migrations.Migration):
    """A migration that fails on every database: the column does not exist."""

    dependencies = [("orders", "0004_order_shipped_at")]
    operations = [migrations.RunSQL("UPDATE orders_order SET note = 'x' WHERE no_such_column = 1", migrations.RunSQL.noop)]
EOF
(cd "$next" && expect 6 migtool migrate-safe)
echo "The whole batch was undone, data included: the database is at 1.0.0 exactly as before."
expect 0 migtool status
expect 0 migtool history

say "Switch the code first, roll back after: the next release applies a working orders.0005"
rm "$next/orders/migrations/0005_broken.py"
cat > "$next/orders/migrations/0005_order_gift.py" <<'EOF'
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_order_shipped_at")]
    operations = [migrations.AddField("order", "gift", models.BooleanField(default=False))]
EOF
(cd "$next" && expect 0 migtool migrate-safe)
echo "The release is withdrawn: this (older) code has no orders.0005_order_gift file, but migrate-safe"
echo "stored its source in the database, so migtool can still plan and run its revert."
expect 0 migtool status
expect 0 migtool rollback 2.0.0 --yes
expect 0 migtool status
echo
echo "Demo finished: every step above was checked against the database by migtool itself."
