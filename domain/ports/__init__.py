"""Ports: what the use cases need from the outside world, as Protocols.

Adapters live in ``store/`` (and in tests as in-memory fakes); only ``bot/`` wires them.
Each concept's ports live in a module of this package; every port is importable from here.
"""

from domain.audit.keys import Signer as Signer  # the port lives beside the keys it names
from domain.ports.clock import Clock as Clock
from domain.ports.delivery import BreakerReader as BreakerReader
from domain.ports.delivery import LedgerSink as LedgerSink
from domain.ports.delivery import LedgerStatusRepository as LedgerStatusRepository
from domain.ports.delivery import Notifier as Notifier
from domain.ports.delivery import OutboxSink as OutboxSink
from domain.ports.items import DigestRepository as DigestRepository
from domain.ports.items import IntakeRepository as IntakeRepository
from domain.ports.items import ItemRepository as ItemRepository
from domain.ports.items import JournalRepository as JournalRepository
from domain.ports.items import ThreadRepository as ThreadRepository
from domain.ports.matching import FxRateRepository as FxRateRepository
from domain.ports.matching import LedgerRepository as LedgerRepository
from domain.ports.matching import MatchRepository as MatchRepository
from domain.ports.people import PeopleRepository as PeopleRepository
from domain.ports.people import ViewStateRepository as ViewStateRepository
from domain.ports.statements import StatementParser as StatementParser
from domain.ports.statements import StatementRepository as StatementRepository
from domain.ports.telemetry import DecisionTrace as DecisionTrace
from domain.ports.telemetry import NoTelemetry as NoTelemetry
from domain.ports.telemetry import SpanValue as SpanValue
from domain.ports.telemetry import Telemetry as Telemetry
from domain.ports.uow import AuditSink as AuditSink
from domain.ports.uow import OnceKeys as OnceKeys
from domain.ports.uow import UnitOfWork as UnitOfWork
from domain.ports.uow import UnitOfWorkFactory as UnitOfWorkFactory
