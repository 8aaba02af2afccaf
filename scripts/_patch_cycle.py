"""Patch the generated initial migration: users and companies refer to each other, so the
companies -> users foreign key is added once both tables exist (Alembic's create_table
ignores use_alter)."""
import pathlib
import sys

path = pathlib.Path(sys.argv[1])
s = path.read_text()
line = "    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_companies_reviewed_by_id_users'), use_alter=True),\n"
assert line in s, "the cycle's foreign key was not where expected"
s = s.replace(line, "")
marker = "    op.create_table('users',"
start = s.index(marker)
end = s.index("\n\n", s.index("    )\n", start)) if "\n\n" in s[start:] else len(s)
block = s[start:s.index("    )\n", start) + len("    )\n")]
addition = (
    "    # companies.reviewed_by_id -> users: added once both tables exist (they refer to each other).\n"
    "    with op.batch_alter_table('companies', schema=None) as batch_op:\n"
    "        batch_op.create_foreign_key(batch_op.f('fk_companies_reviewed_by_id_users'), 'users', ['reviewed_by_id'], ['id'])\n"
)
s = s.replace(block, block + addition, 1)
down = "def downgrade():\n"
s = s.replace(down, down + "    with op.batch_alter_table('companies', schema=None) as batch_op:\n"
              "        batch_op.drop_constraint(batch_op.f('fk_companies_reviewed_by_id_users'), type_='foreignkey')\n\n", 1)
path.write_text(s)
