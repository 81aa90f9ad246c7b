"""The demo that ``make run`` seeds (``cauri demo``): the platform administrator, then each module's own demo.

A module contributes its demo in ``cauri.<module>.demo`` with ``async def seed(session, settings) -> DemoSummary``
(found through :mod:`cauri.modules`, so parallel modules never edit a shared demo file). Everything runs in one
transaction and is idempotent: running it again creates only what is missing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cauri.core.config import Settings
from cauri.core.db import make_engine, make_sessionmaker, unit_of_work
from cauri.identity.seeding import DEMO_PASSWORD, DemoSummary, DemoUser, ensure_user
from cauri.modules import import_all

PLATFORM_ADMIN = DemoUser("admin@cauri.africa", "Administrateur Cauri", None, platform_admin=True)


@dataclass(frozen=True)
class Demo:
    platform_admin: DemoUser
    password: str
    organizations: tuple[DemoSummary, ...]


async def seed_demo(settings: Settings) -> Demo:
    engine = make_engine(settings.database_url)
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            await ensure_user(session, PLATFORM_ADMIN)
            summaries = [await module.seed(session, settings) for module in import_all("demo")]
            summaries.append(await seed_lokahome(session, settings))
    finally:
        await engine.dispose()
    return Demo(PLATFORM_ADMIN, DEMO_PASSWORD, tuple(summaries))


# LokaHome (rentals, seed 004): the marketplace, a landlord, a tenant and a provider, and listings in four cities
# with photos drawn at seed time. Self-contained: everything of the rentals demo is below.

LOKAHOME_SLUG = "lokahome"  # CAURI_LOKAHOME_ORGANIZATION=lokahome serves it on /lokahome (make run sets it)
LOKAHOME_PEOPLE = (  # email, name, role in the marketplace, mobile-money number
    ("proprietaire@lokahome.demo.cauri.africa", "Kossi Adjovi", "landlord", "+2290197000101"),
    ("locataire@lokahome.demo.cauri.africa", "Aminata Koné", "tenant", "+2250700000100"),
    ("prestataire@lokahome.demo.cauri.africa", "Yao Mensah", "provider", "+22890000100"),
)
LOKAHOME_LISTINGS = (  # title, city, neighbourhood, latitude, longitude, type, rental type, price, bedrooms, colour
    (
        "Appartement meublé à Fidjrossè",
        "Cotonou",
        "Fidjrossè",
        6.3703,
        2.3912,
        "apartment",
        "short_term",
        25_000,
        2,
        (214, 140, 60),
    ),
    (
        "Villa avec piscine à Haie Vive",
        "Cotonou",
        "Haie Vive",
        6.3560,
        2.4050,
        "villa",
        "long_term",
        450_000,
        4,
        (60, 140, 200),
    ),
    ("Studio près du Grand Marché", "Lomé", "Bè", 6.1319, 1.2228, "studio", "short_term", 15_000, 1, (120, 180, 90)),
    ("Maison familiale à Tokoin", "Lomé", "Tokoin", 6.1500, 1.2150, "house", "long_term", 180_000, 3, (200, 90, 90)),
    (
        "Appartement standing à Cocody",
        "Abidjan",
        "Cocody",
        5.3600,
        -3.9900,
        "apartment",
        "short_term",
        40_000,
        2,
        (90, 90, 200),
    ),
    (
        "Chambre meublée au Plateau",
        "Abidjan",
        "Plateau",
        5.3250,
        -4.0200,
        "room",
        "short_term",
        12_000,
        1,
        (170, 120, 200),
    ),
    (
        "Appartement vue mer aux Almadies",
        "Dakar",
        "Almadies",
        14.7450,
        -17.5150,
        "apartment",
        "short_term",
        55_000,
        3,
        (40, 160, 160),
    ),
    ("Maison à Mermoz", "Dakar", "Mermoz", 14.7070, -17.4750, "house", "long_term", 350_000, 4, (180, 160, 60)),
)


async def seed_lokahome(session: Any, settings: Settings) -> DemoSummary:
    """The LokaHome marketplace demo; idempotent (people by e-mail, listings only for a landlord who has none)."""
    import io

    from PIL import Image, ImageDraw
    from sqlalchemy import select

    from cauri.core.storage import make_storage
    from cauri.identity.models import Membership, User
    from cauri.identity.permissions import Role
    from cauri.identity.seeding import DemoOrganization, ensure_organization
    from cauri.identity.service import create_user, hash_password_off_loop
    from cauri.rentals.images import process_image, store_renditions
    from cauri.rentals.models import Property, PropertyImage

    operator = DemoUser("operateur@lokahome.demo.cauri.africa", "Nadia Houngbo", Role.OWNER)
    organization = await ensure_organization(
        session,
        settings,
        DemoOrganization(
            slug=LOKAHOME_SLUG, name="LokaHome (démo)", region="BJ", maker_checker=False, users=(operator,)
        ),
    )
    labels = {"landlord": "propriétaire", "tenant": "locataire", "provider": "prestataire"}
    people: dict[str, User] = {}
    shown = [operator]
    for email, name, role, phone in LOKAHOME_PEOPLE:
        user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            user = await create_user(
                session,
                email=email,
                phone=phone,
                password_hash=await hash_password_off_loop(DEMO_PASSWORD),
                full_name=name,
                language="fr",
            )
        member = await session.execute(
            select(Membership.id).where(Membership.organization_id == organization.id, Membership.user_id == user.id)
        )
        if member.first() is None:
            session.add(Membership(organization_id=organization.id, user_id=user.id, role=role))
            await session.flush()
        people[role] = user
        shown.append(DemoUser(email, f"{name} ({labels[role]})", None))
    landlord = people["landlord"]
    has_listings = await session.execute(select(Property.id).where(Property.owner_id == landlord.id).limit(1))
    if has_listings.first() is None:
        storage = make_storage(settings)
        for title, city, area, lat, lon, kind, term, price, rooms, colour in LOKAHOME_LISTINGS:
            prop = Property(
                organization_id=organization.id,
                owner_id=landlord.id,
                title=title,
                description=f"{title}. Quartier {area}, {city} : calme, sécurisé, proche des commerces.",
                property_type=kind,
                rental_type=term,
                price=price,
                currency="XOF",
                address=f"{area}, {city}",
                city=city,
                neighborhood=area,
                latitude=lat,
                longitude=lon,
                bedrooms=rooms,
                bathrooms=1,
                surface_area=30.0 + 25 * rooms,
                is_furnished=term == "short_term",
                amenities=["wifi", "eau", "parking"],
                rules="Pas de fête après 22 h.",
                status="published",
                minimum_stay=1 if term == "short_term" else 30,
                deposit_amount=price * (2 if term == "long_term" else 1),
                is_featured=False,
                views_count=0,
                commission_bps=1000,
            )
            session.add(prop)
            await session.flush()
            picture = Image.new("RGB", (1600, 1067), colour)
            draw = ImageDraw.Draw(picture)
            draw.rectangle((500, 420, 1100, 900), fill=(245, 240, 230))
            draw.polygon([(450, 430), (800, 180), (1150, 430)], fill=(150, 60, 40))
            draw.text((60, 60), f"{city} — {area}", fill=(255, 255, 255))
            raw = io.BytesIO()
            picture.save(raw, format="JPEG", quality=85)
            processed = process_image(raw.getvalue())
            keys = await store_renditions(storage, organization.id, processed)
            session.add(
                PropertyImage(
                    property_id=prop.id,
                    thumb_key=keys["thumb"],
                    medium_key=keys["medium"],
                    large_key=keys["large"],
                    width=processed.width,
                    height=processed.height,
                    is_primary=True,
                    order_index=0,
                )
            )
        await session.flush()
    await _seed_lokahome_services(session, organization.id, provider=people["provider"], tenant=people["tenant"])
    return DemoSummary(
        organization="LokaHome (démo)",
        organization_id=organization.id,
        available_balance=0,
        currency="XOF",
        users=tuple(shown),
    )


async def _seed_lokahome_services(session: Any, organization_id: uuid.UUID, *, provider: Any, tenant: Any) -> None:
    """The demo provider's profile (plumbing and electricity in Cotonou and Lomé) and one open request of the demo
    tenant they can quote on. Runs once: nothing is added when the profile exists."""
    from sqlalchemy import select

    from cauri.rentals.models import ProviderCoverage, ServiceProvider, ServiceRequest
    from cauri.rentals.services import COMMISSION_BPS, city_key

    existing = await session.execute(
        select(ServiceProvider.id).where(
            ServiceProvider.organization_id == organization_id, ServiceProvider.user_id == provider.id
        )
    )
    if existing.first() is not None:
        return
    services, areas = ["plumbing", "electricity"], ["Cotonou", "Lomé"]
    profile = ServiceProvider(
        organization_id=organization_id,
        user_id=provider.id,
        company_name="Mensah Dépannage",
        bio="Plombier et électricien depuis 12 ans, interventions en urgence 7 j/7.",
        services=services,
        areas=areas,
        hourly_rate=5_000,
        currency="XOF",
        is_verified=True,
        rating=None,
        reviews_count=0,
        total_jobs=0,
    )
    session.add(profile)
    await session.flush()
    session.add_all(
        ProviderCoverage(provider_id=profile.id, service_code=code, city_key=city_key(city))
        for code in services
        for city in areas
    )
    session.add(
        ServiceRequest(
            organization_id=organization_id,
            requester_id=tenant.id,
            service_code="plumbing",
            title="Fuite sous l'évier de la cuisine",
            description="L'eau coule sous l'évier depuis hier soir ; le robinet d'arrêt ne ferme plus bien.",
            urgency="high",
            city="Cotonou",
            city_key=city_key("Cotonou"),
            status="open",
            amount=0,
            paid_amount=0,
            commission_bps=COMMISSION_BPS,
            released=False,
            refunded_amount=0,
            payment_details={},
        )
    )
    await session.flush()
