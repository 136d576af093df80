"""The sync status and the outbox move from the directory app to entra (graph mode's own
app). The tables stay where they are; only Django's idea of their owner changes here, and
0002 gives them entra's names."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('directory', '0004_password_must_change'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DirectorySyncState',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('delta_link', models.TextField(blank=True, default='')),
                        ('last_full_sync_at', models.DateTimeField(blank=True, null=True)),
                        ('last_delta_sync_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('idle', 'idle'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed')], default='idle', max_length=16)),
                        ('running_since', models.DateTimeField(blank=True, null=True)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('run_kind', models.CharField(blank=True, default='', max_length=8)),
                        ('stage', models.CharField(blank=True, default='', max_length=32)),
                        ('progress_done', models.PositiveIntegerField(default=0)),
                        ('progress_total', models.PositiveIntegerField(blank=True, null=True)),
                        ('last_started_at', models.DateTimeField(blank=True, null=True)),
                        ('last_finished_at', models.DateTimeField(blank=True, null=True)),
                        ('last_counts', models.JSONField(blank=True, default=dict)),
                        ('last_warnings', models.JSONField(blank=True, default=list)),
                        ('last_error', models.TextField(blank=True, default='')),
                        ('last_error_at', models.DateTimeField(blank=True, null=True)),
                        ('requested_at', models.DateTimeField(blank=True, null=True)),
                        ('requested_by', models.CharField(blank=True, default='', max_length=255)),
                    ],
                    options={
                        'verbose_name': 'directory sync state',
                        'db_table': 'directory_directorysyncstate',
                    },
                ),
                migrations.CreateModel(
                    name='OutboxChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('object_id', models.UUIDField()),
                        ('user_label', models.CharField(blank=True, default='', max_length=255)),
                        ('kind', models.CharField(choices=[('mfa_state', 'per-user MFA state'), ('methods_delete', 'delete authentication methods'), ('sessions_revoke', 'revoke sign-in sessions')], max_length=16)),
                        ('payload', models.JSONField(blank=True, default=dict)),
                        ('status', models.CharField(choices=[('pending', 'pending'), ('sending', 'sending'), ('done', 'done'), ('failed', 'failed'), ('superseded', 'superseded')], default='pending', max_length=12)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('claim_token', models.UUIDField(blank=True, null=True)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True, default='')),
                        ('graph_error_code', models.CharField(blank=True, default='', max_length=100)),
                        ('graph_status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('done_at', models.DateTimeField(blank=True, null=True)),
                        ('actor_label', models.CharField(blank=True, default='', max_length=255)),
                        ('source', models.CharField(blank=True, default='', max_length=16)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outbox_changes_made', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outbox_changes', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['id'],
                        'db_table': 'directory_outboxchange',
                        'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='outbox_due'), models.Index(fields=['user', 'status'], name='outbox_user_status'), models.Index(fields=['object_id', 'kind', 'status'], name='outbox_target_kind')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
