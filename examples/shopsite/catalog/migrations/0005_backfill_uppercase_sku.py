"""Release 2.0.0: normalise every SKU to upper case.

Deliberately irreversible: RunPython has no reverse_code because the original
spelling of each SKU is lost, so there is nothing correct to restore.
`migrate catalog <anything before 0005>` therefore fails with IrreversibleError
once this migration is applied.
"""

from django.db import migrations
from django.db.models.functions import Upper


def uppercase_skus(apps, schema_editor):
    # Historical model, and the connection being migrated (not "default").
    Product = apps.get_model("catalog", "Product")
    Product.objects.using(schema_editor.connection.alias).update(sku=Upper("sku"))


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0004_merge_product_price_stock'),
    ]

    operations = [
        migrations.RunPython(uppercase_skus),
    ]
