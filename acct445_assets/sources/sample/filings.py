"""Synthetic 10-K/10-Q primary documents for the sample universe.

Each bank's CECL note varies with its latent opacity in the filing's report quarter (the
universe's opacity path) in exactly the ways rubric cnoi-1 measures: required items and segments drop out, tables thin out, lose their numbers or
become images, prose gets longer and more polysyllabic, cross-references multiply, the
wording churns from quarter to quarter and the note moves away from the statements.
Documents use the markup of real EDGAR filings (inline XBRL, nested and layout tables,
"(continued)" pages, page numbers) so the real extraction path is exercised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

# Opacity (0..1) above which a feature is missing; each bank draws a small jitter.
THRESHOLDS = {
    "no_methodology": 0.20,
    "no_collateral": 0.28,
    "no_aging": 0.34,
    "no_risk_characteristics": 0.40,
    "no_credit_quality": 0.46,
    "numberless_tables": 0.50,
    "no_inputs": 0.55,
    "few_segments": 0.60,
    "image_tables": 0.65,
    "not_reconciled": 0.70,
    "no_roll_forward": 0.76,
    "fallback_heading": 0.82,
}
THRESHOLD_JITTER = 0.05
NOTE_TITLES = (
    "LOANS AND ALLOWANCE FOR {ACL} LOSSES",
    "LOANS, ALLOWANCE FOR {ACL} LOSSES, AND CREDIT QUALITY",
    "ALLOWANCE FOR {ACL} LOSSES",
)
SEGMENTS = [
    "Commercial and industrial",
    "Commercial real estate",
    "Construction and land development",
    "Residential real estate",
    "Consumer",
]
FILLER_NOTES = [
    "SECURITIES",
    "RESTRICTED EQUITY SECURITIES",
    "PREMISES AND EQUIPMENT",
    "GOODWILL AND INTANGIBLE ASSETS",
    "LEASES",
    "DEPOSITS",
    "BORROWINGS",
    "INCOME TAXES",
    "FAIR VALUE MEASUREMENTS",
    "DERIVATIVES AND HEDGING",
    "REGULATORY CAPITAL",
    "EARNINGS PER SHARE",
    "COMMITMENTS AND CONTINGENCIES",
    "STOCK-BASED COMPENSATION",
]
ALT_RE = re.compile(r"\{([^{}]*)\}")
SPAN = "color:#000000;font-family:'Times New Roman',sans-serif;font-size:10pt;font-weight:400;line-height:120%"
SPAN_B = SPAN.replace("font-weight:400", "font-weight:700")


# Sentence templates. "{a|b}" is a wording slot that may be redrawn each quarter (churn).
PLAIN = {
    "segments_full": "{The loan portfolio is|Loans are|The Company's loans are} {divided|grouped|split} into five segments: commercial and industrial, commercial real estate, construction and land development, residential real estate, and consumer.",
    "segments_few": "{The loan portfolio consists of|Loans include|The Bank holds} commercial loans and consumer loans.",
    "risk": "{Loans that share|Loans with} similar risk characteristics are {evaluated|measured|reviewed} in pools.",
    "method": "{The Company uses|Management uses|We use} a discounted cash flow methodology for commercial loans and a loss-rate method for consumer loans.",
    "inputs": "{The forecast covers|Management uses} a reasonable and supportable period of four quarters. {It uses|The model uses|Inputs include} the national unemployment rate and GDP growth.",
    "collateral": "A loan is collateral-dependent when {repayment is expected|the Bank expects repayment} from the sale of the collateral. {These loans|Such loans} are measured at the fair value of the collateral.",
    "roll_intro": "The following table {presents|shows} the activity in the allowance by segment.",
    "aging_intro": "The following table {presents|shows} the aging of loans by segment.",
    "cqi": "The Company assigns {risk ratings|loan grades} of pass, special mention, substandard and doubtful.",
    "general": "The allowance for credit losses is {reviewed|updated} each quarter.",
    "judgment": "{Actual losses|Losses} may differ from {the estimate|these estimates}.",
}
COMPLEX = {
    "segments_full": "{Consistent with its internal risk management practices, the Company disaggregates|For purposes of measurement and disclosure, management disaggregates} the portfolio into commercial and industrial, commercial real estate, construction and land development, residential real estate, and consumer segments, reflecting {differentiated underwriting considerations|heterogeneous collateral characteristics} and {distinguishable|particular} repayment dependencies.",
    "segments_few": "{For measurement purposes, the Company categorizes|Management characterizes} its {lending activities|financing receivables} as commercial or consumer, {reflecting|corresponding to} its organizational structure.",
    "risk": "{Financing receivables|Loans} exhibiting similar risk characteristics, {including|particularly} collateral classification, {industry concentration|geographic distribution} and borrower creditworthiness, are aggregated into {homogeneous|comparable} pools for {collective|aggregate} measurement purposes.",
    "method": "Expected credit losses are {quantified|determined} utilizing a discounted cash flow methodology incorporating probability of default and loss given default assumptions for commercial exposures, {complemented|supplemented} by a remaining life methodology for consumer portfolios.",
    "inputs": "Management's {estimation|determination} incorporates a reasonable and supportable forecast period {encompassing|spanning} four quarters, {utilizing|referencing} projections of the national unemployment rate and gross domestic product, {subsequently|thereafter} reverting to {historical|long-term} loss experience.",
    "collateral": "{Financing receivables|Loans} are {designated|considered} collateral-dependent when the borrower is experiencing financial difficulty and repayment is {anticipated|expected} to be provided substantially through the {operation|liquidation} of the collateral, in which circumstances the allowance is {determined|measured} by reference to the collateral's fair value less estimated costs to sell.",
    "roll_intro": "The {subsequent|accompanying} tabulation {summarizes|presents} the {activity|movements} in the allowance, {disaggregated|categorized} by portfolio segment.",
    "aging_intro": "The {subsequent|accompanying} tabulation {summarizes|presents} the delinquency status of amortized cost, {disaggregated|categorized} by portfolio segment.",
    "cqi": "Management {assigns|determines} internal risk ratings, {encompassing|including} pass, special mention, substandard and doubtful classifications, {predicated|based} upon {comprehensive|periodic} evaluations of borrower repayment capacity.",
    "general": "{The determination|The evaluation} of the allowance for credit losses necessarily incorporates considerable {subjectivity|judgment} regarding prospective developments, and management {periodically|regularly} reassesses the {appropriateness|adequacy} of its assumptions in light of {evolving|contemporaneous} circumstances.",
    "judgment": "{Notwithstanding|Irrespective of} these considerations, {actual|realized} credit losses could differ materially from {management's|the Company's} estimates, {particularly|especially} if {prevailing|anticipated} conditions deteriorate {considerably|significantly} beyond {expectations|current assessments}.",
}
BOILERPLATE_COMPLEX = [
    "{Accordingly|Consequently}, the allowance for credit losses represents management's {comprehensive|considered} estimate of {lifetime|contractual-term} expected credit losses inherent in the portfolio, {incorporating|reflecting} quantitative calculations and qualitative adjustments {attributable|relating} to {idiosyncratic|institution-specific} circumstances.",
    "Qualitative {adjustments|considerations} {encompass|include} {concentrations|changes in the nature and volume} of {lending|financing} activities, {personnel|organizational} developments, and {competitive|regulatory} {environments|circumstances}, {each|all} of which {necessitate|require} substantial professional judgment.",
    "{Management|The Company} {continually|periodically} {evaluates|reassesses} the {appropriateness|sufficiency} of the allowance {considering|incorporating} information {available|obtainable} as of the reporting date, {notwithstanding|despite} inherent {uncertainty|imprecision} {associated|involved} with such {determinations|estimates}.",
    "{Modifications|Revisions} to underlying {assumptions|parameters} could {materially|significantly} {affect|influence} the {recorded|reported} allowance for credit losses and the {corresponding|associated} provision in {subsequent|future} periods, {potentially|possibly} {resulting|culminating} in {substantial|considerable} {volatility|variability} of reported earnings.",
]
BOILERPLATE_PLAIN = [
    "{The Bank|The Company} {reviews|checks} large loans each quarter for expected credit losses.",
    "{Staff|Officers} {track|watch} loan payments each month.",
]
CROSS_REFS = [
    "See Note 1 for {the accounting policy|our policies}.",
    "Refer to {Note 15|the fair value note} for {valuation methods|collateral values}.",
    "See Note 2 for {securities|the investment portfolio}.",
    "Refer to {Management's Discussion and Analysis|Item 7} for {further discussion|more detail}.",
    "See Note 18 for {commitments|off-balance-sheet exposures}.",
]


@dataclass
class _Sentence:
    parts: list[str]
    slots: list[list[str]]

    @classmethod
    def parse(cls, template: str) -> _Sentence:
        parts = ALT_RE.split(template)
        return cls(parts[0::2], [p.split("|") for p in parts[1::2]])

    def render(self, choice: list[int]) -> str:
        out = [self.parts[0]]
        for opts, c, tail in zip(self.slots, choice, self.parts[1:], strict=True):
            out.append(opts[c % len(opts)])
            out.append(tail)
        return "".join(out)


_PARSED: dict[str, _Sentence] = {}


def _sentence(template: str) -> _Sentence:
    hit = _PARSED.get(template)
    if hit is None:
        hit = _PARSED[template] = _Sentence.parse(template)
    return hit


class _BankStyle:
    """Persistent per-bank choices; per-filing variation is drawn around them.

    The note's features follow the bank's latent opacity in the filing's report quarter
    (``set_opacity``) through fixed per-bank jitters, so a bank's note changes when its
    opacity does and only then.
    """

    def __init__(self, bank: pd.Series, seed: int):
        self.rng = np.random.default_rng([seed, int(bank["cik"])])
        rng = self.rng
        # Jitters in the order the features were once drawn, so a bank at a constant
        # opacity gets the very documents it got when opacity was constant per bank.
        self.threshold_jitter = {k: rng.normal(0, THRESHOLD_JITTER) for k in THRESHOLDS}
        self.complex_jitter = rng.normal(0, 0.04)
        self.churn_jitter = rng.normal(0, 0.03)
        self.cross_ref_jitter = rng.normal(0, 0.4)
        self.boiler_jitter = rng.normal(0, 0.4)
        self.before_jitter = rng.normal(0, 0.6)
        self.legacy_markup = bool(rng.random() < 0.25)
        self.nested_tables = bool(rng.random() < 0.4)
        self.dash = str(rng.choice(["-", "–", "—"]))
        self.note_title = str(rng.choice(NOTE_TITLES))
        self.title_case = bool(rng.random() < 0.3)
        self.loans_total = float(bank["shares_outstanding"]) / 1000.0 * rng.uniform(15, 35)
        self.seg_weights = rng.dirichlet(np.ones(len(SEGMENTS)) * 3)
        self.acl_rate = rng.uniform(0.009, 0.016)
        self.name = str(bank["name"])
        self.cik = str(bank["cik"]).zfill(10)
        self.base_choice: dict[str, list[int]] = {}
        self.prev_choice: dict[str, list[int]] = {}
        self.complex_choice: dict[str, bool] = {}
        self.rendered: dict[str, tuple[list[int], str, str]] = {}
        self.opacity = float("nan")
        self.set_opacity(float(bank["latent_opacity"]))

    def set_opacity(self, latent: float) -> None:
        """The note features of a filing whose report quarter has this latent opacity (0..100)."""
        o = min(max((latent - 15.0) / 70.0, 0.0), 1.0)
        if o == self.opacity:
            return
        self.opacity = o
        jit = self.threshold_jitter
        self.missing = {k: o + jit[k] > t for k, t in THRESHOLDS.items()}
        self.complex_share = min(max(o + self.complex_jitter, 0.0), 1.0)
        self.churn = min(max(0.02 + 0.75 * o + self.churn_jitter, 0.0), 0.95)
        self.n_cross_refs = min(max(round(o * 5.5 + self.cross_ref_jitter), 0), 5)
        self.n_boiler = min(max(round(o * 4 + self.boiler_jitter), 0), 4)
        self.n_before = min(max(round(o * 11 + self.before_jitter), 0), len(FILLER_NOTES) - 2)
        w = self.seg_weights
        self.note_weights = np.array([w[:4].sum(), w[4]]) if self.missing["few_segments"] else w

    def register(self, key: str) -> bool:
        """Complex or plain wording of a sentence: kept from last quarter unless it churns."""
        prev = self.complex_choice.get(key)
        if prev is None or self.rng.random() < self.churn:
            prev = bool(self.rng.random() < self.complex_share)
        self.complex_choice[key] = prev
        return prev

    def words(self, key: str, template: str) -> str:
        """Render a template; each slot keeps last quarter's wording unless it churns."""
        rng, churn = self.rng, self.churn
        prev = self.prev_choice.get(key)
        if prev is None:
            # One array draw consumes the stream exactly like len(slots) scalar draws.
            prev = rng.integers(0, 6, len(_sentence(template).slots)).tolist()
        choice = [int(rng.integers(0, 6)) if rng.random() < churn else c for c in prev]
        self.prev_choice[key] = choice
        # Most quarters no slot churns: reuse last quarter's sentence.
        hit = self.rendered.get(key)
        if hit is None or hit[0] != choice or hit[1] != template:
            hit = self.rendered[key] = (choice, template, _sentence(template).render(choice))
        return hit[2]


def _esc(text: str) -> str:
    # html.escape(text, quote=False) without its call overhead: this runs for every cell.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _para_wraps(legacy: bool) -> dict[tuple[bool, bool, bool], tuple[str, str]]:
    """Markup before and after a paragraph's text, by (bold, italic, center)."""
    wraps = {}
    for bold in (False, True):
        for italic in (False, True):
            for center in (False, True):
                if legacy:
                    align = ' ALIGN="center"' if center else ""
                    pre = f'<P{align}><FONT SIZE="2" FACE="Times New Roman">'
                    pre += ("<B>" if bold else "") + ("<I>" if italic else "")
                    suf = ("</I>" if italic else "") + ("</B>" if bold else "")
                    suf += "</FONT></P>\n"
                else:
                    st = (SPAN_B if bold else SPAN) + (";font-style:italic" if italic else "")
                    align = "center" if center else "justify"
                    pre = f'<div style="margin-top:6pt;text-align:{align}"><span style="{st}">'
                    suf = "</span></div>\n"
                wraps[bold, italic, center] = (pre, suf)
    return wraps


_PARA = {legacy: _para_wraps(legacy) for legacy in (False, True)}
_PAGE_BREAK = '<div style="break-before:page;page-break-after:always"><hr/></div>\n'
_TD_NUM = '<td style="text-align:right">'
_TD_DOLLAR = '<td>$</td><td style="text-align:right">'


@lru_cache(maxsize=4096)
def _heading_html(
    legacy: bool, title_case: bool, dash: str, number: int, title: str, continued: bool
) -> str:
    if title_case:
        title = " ".join(
            w.lower() if w in ("AND", "FOR", "OF") else w.capitalize() for w in title.split()
        )
    if legacy and not continued:
        return (
            '<TABLE WIDTH="100%" BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR VALIGN="top">'
            f'<TD WIDTH="5%"><FONT SIZE="2"><B>{number}.</B></FONT></TD>'
            f'<TD><FONT SIZE="2"><B>{_esc(title)}</B></FONT></TD></TR></TABLE>\n'
        )
    pre, suf = _PARA[legacy][True, False, False]
    text = f"NOTE {number} {dash} {title}" + (" (continued)" if continued else "")
    return pre + _esc(text) + suf


@lru_cache(maxsize=1024)
def _table_head(header: tuple[str, ...]) -> str:
    cells = "".join(f'<td style="text-align:center"><b>{_esc(h)}</b></td>' for h in header)
    return f'<table style="border-collapse:collapse;width:100%">\n<tr>{cells}</tr>'


@lru_cache(maxsize=4096)
def _row_open(label: str) -> str:
    return f"<tr><td><span>{_esc(label)}</span></td>"


@lru_cache(maxsize=256)
def _fact_open(concept: str) -> tuple[str, ...]:
    """Opening of an inline XBRL fact up to its id number, by ``fact % 7``."""
    return tuple(
        f'<ix:nonFraction name="us-gaap:{concept}" contextRef="c-{k + 1}" '
        'unitRef="usd" decimals="-3" scale="3" id="f'
        for k in range(7)
    )


@lru_cache(maxsize=1024)
def _fmt_date(d: pd.Timestamp) -> str:
    return f"{d.strftime('%B')} {d.day}, {d.year}"


_GROWTH_BASE = pd.Timestamp("2020-01-01")


@lru_cache(maxsize=1024)
def _date_codes(d: pd.Timestamp) -> tuple[str, str, int]:
    """``YYYYMMDD``, ISO date and days since the loan-growth base date."""
    return f"{d:%Y%m%d}", f"{d:%Y-%m-%d}", (d - _GROWTH_BASE).days


class _Doc:
    def __init__(self, style: _BankStyle, report: pd.Timestamp, form: str):
        self.s = style
        self.report = report
        self.date = _fmt_date(report)
        self.form = form
        self.out: list[str] = []
        self.fact = 0
        self.page = 1
        self.wraps = _PARA[style.legacy_markup]

    def para(
        self, text: str, bold: bool = False, italic: bool = False, center: bool = False
    ) -> None:
        pre, suf = self.wraps[bold, italic, center]
        self.out.append(pre + _esc(text) + suf)

    def heading(self, number: int, title: str, continued: bool = False) -> None:
        s = self.s
        self.out.append(
            _heading_html(s.legacy_markup, s.title_case, s.dash, number, title, continued)
        )

    def page_break(self) -> None:
        pre, suf = self.wraps[False, False, True]
        self.out.append(f"{pre}{self.page}{suf}{_PAGE_BREAK}")
        self.page += 1

    def table(
        self,
        header: list[str],
        rows: list[tuple[str, list]],
        concept: str | None = None,
        decimals: int = 0,
    ) -> None:
        out = [_table_head(tuple(header))]
        fmt = f",.{decimals}f"
        opens = _fact_open(concept) if concept else None
        fact = self.fact
        last = len(rows) - 1
        for i, (label, values) in enumerate(rows):
            tds = [_row_open(label)]
            td = _TD_DOLLAR if i == 0 or i == last else _TD_NUM
            for v in values:
                if isinstance(v, str):
                    tds.append(f"<td>{_esc(v)}</td>")
                    continue
                txt = format(abs(v), fmt)
                if opens:
                    fact += 1
                    if v < 0:
                        tds.append(
                            f'{td}({opens[fact % 7]}{fact}" sign="-">{txt}</ix:nonFraction>)</td>'
                        )
                    else:
                        tds.append(f'{td}{opens[fact % 7]}{fact}">{txt}</ix:nonFraction></td>')
                else:
                    tds.append(f"{td}({txt})</td>" if v < 0 else f"{td}{txt}</td>")
            tds.append("</tr>")
            out.append("".join(tds))
        self.fact = fact
        out.append("</table>")
        body = "\n".join(out)
        if self.s.nested_tables:
            body = f'<table style="width:100%"><tr><td>{body}</td></tr></table>'
        self.out.append(body + "\n")

    def image(self, alt: str) -> None:
        self.fact += 1
        self.out.append(
            f'<div style="text-align:center"><img src="{self.s.cik[-6:]}img{self.fact:03d}.jpg" alt="{_esc(alt)}"/></div>\n'
        )

    def text_block_start(self, concept: str) -> None:
        if not self.s.legacy_markup:
            self.out.append(
                f'<ix:nonNumeric name="us-gaap:{concept}" contextRef="c-1" escape="true" id="tb-{self.fact}">\n'
            )

    def text_block_end(self) -> None:
        if not self.s.legacy_markup:
            self.out.append("</ix:nonNumeric>\n")


def _filler_notes(
    doc: _Doc, number: int, titles: list[str], rng: np.random.Generator, scale: float
) -> int:
    """Consecutive notes other than the CECL note, numbered from ``number``; returns the next."""
    # One draw for all the notes takes the same values from the stream as a draw per note;
    # np.round, like round() on each value, rounds half to even.
    tables = (rng.uniform(0.01, 0.2, (len(titles), 3, 2)) * scale).round().tolist()
    header = ("(In thousands)", doc.date, "Prior period")
    for title, vals in zip(titles, tables, strict=True):
        doc.heading(number, title)
        doc.text_block_start("TextBlock")
        doc.para(
            f"This note describes {title.lower()} of the Company at {doc.date}. "
            "Amounts are presented in thousands of dollars. The Company measures these items in accordance "
            "with generally accepted accounting principles and reviews the related balances every quarter. "
            "Changes during the period reflected ordinary business activity and market conditions."
        )
        doc.table(
            header,
            list(zip(("Balance", "Additions", "Total"), vals, strict=True)),
            concept="OtherAssets",
        )
        doc.text_block_end()
        number += 1
    return number


def _cecl_note(doc: _Doc, number: int, filing_ctx: dict) -> None:
    s = doc.s
    m = s.missing
    rng = s.rng
    adopted = filing_ctx["adopted"]
    acl_word = "credit" if adopted else "loan"
    title = (
        "LENDING ACTIVITIES"
        if m["fallback_heading"]
        else s.note_title.replace("{ACL}", acl_word.upper())
    )

    def say(key: str) -> str:
        use_complex = s.register(key)
        template = (COMPLEX if use_complex else PLAIN)[key]
        return s.words(key + ("_c" if use_complex else "_p"), template)

    doc.heading(number, title)
    doc.text_block_start("FinancingReceivablesTextBlock")
    sentences = [say("segments_few" if m["few_segments"] else "segments_full")]
    if not m["no_risk_characteristics"]:
        sentences.append(say("risk"))
    if not m["no_methodology"]:
        sentences.append(say("method"))
    if not m["no_inputs"]:
        sentences.append(say("inputs"))
    sentences.append(filing_ctx["adoption_sentence"])
    for k in range(s.n_cross_refs):
        sentences.append(s.words(f"xref{k}", CROSS_REFS[k]))
    for k in range(s.n_boiler):
        sentences.append(s.words(f"boiler{k}", BOILERPLATE_COMPLEX[k]))
    if s.n_boiler == 0:
        sentences.extend(s.words(f"plain{k}", t) for k, t in enumerate(BOILERPLATE_PLAIN))
    sentences.append(say("general"))
    half = max(1, len(sentences) // 2)
    doc.para(" ".join(sentences[:half]))
    doc.para(" ".join(sentences[half:]))

    seg_names = ["Commercial", "Consumer"] if m["few_segments"] else SEGMENTS
    weights = s.note_weights
    loans = filing_ctx["loans"] * weights
    acl_end = filing_ctx["acl"] * weights
    # Exact integer totals so the note's total equals the balance sheet.
    acl_end = acl_end.round()
    acl_end[-1] = round(filing_ctx["acl"]) - acl_end[:-1].sum()
    millions = m["not_reconciled"]
    unit = "(In millions)" if millions else "(In thousands)"
    div, dec = (1000.0, 1) if millions else (1.0, 0)

    def amounts(values: np.ndarray) -> list:
        # The same ufuncs as round() on each numpy scalar, so the same digits.
        return (values / div).round(dec).tolist()

    tables_as_images = m["image_tables"]
    numberless = m["numberless_tables"]
    header = [unit, *seg_names, "Total"]

    def note_table(image_alt: str, words_header: list, words_rows: list, numbers) -> None:
        # As banks print them: a picture, a table of words, or numbers (drawn only then, so
        # the random stream is the same as when each table had its own branch).
        if tables_as_images:
            doc.image(image_alt)
        elif numberless:
            doc.table(words_header, words_rows)
        else:
            table_header, rows, concept = numbers()
            doc.table(table_header, rows, concept=concept, decimals=dec)

    if not m["no_roll_forward"]:
        subtitle = (
            "Reserve Activity"
            if m["fallback_heading"]
            else f"Allowance for {acl_word.title()} Losses"
        )
        doc.para(subtitle, bold=True, italic=True)
        doc.para(say("roll_intro"))

        def roll_forward():
            charge = -np.round(acl_end * rng.uniform(0.02, 0.08, len(seg_names)))
            recov = np.round(-charge * rng.uniform(0.1, 0.3, len(seg_names)))
            prov = np.round(acl_end * rng.uniform(0.02, 0.10, len(seg_names)))
            begin = acl_end - charge - recov - prov
            flows = (begin, charge, recov, prov, acl_end)
            grid = amounts(np.column_stack([np.vstack(flows), [f.sum() for f in flows]]))
            labels = ["Beginning balance", "Charge-offs", "Recoveries"]
            labels += [f"Provision for {acl_word} losses", "Ending balance"]
            rows = list(zip(labels, grid, strict=True))
            return header, rows, "FinancingReceivableAllowanceForCreditLossExcludingAccruedInterest"

        note_table(
            "Allowance activity table",
            ["Segment", "Primary drivers of the allowance"],
            [(n, ["Portfolio performance and conditions"]) for n in seg_names],
            roll_forward,
        )
    # A (continued) page in the middle of the note, as printed filings have.
    doc.text_block_end()
    doc.page_break()
    doc.heading(number, title, continued=True)
    doc.text_block_start("FinancingReceivablesTextBlockContinued")
    if not m["no_aging"]:
        doc.para("Past Due Loans", bold=True, italic=True)
        doc.para(say("aging_intro"))

        def aging():
            d30 = loans * rng.uniform(0.002, 0.01, len(seg_names))
            d90 = loans * rng.uniform(0.001, 0.004, len(seg_names))
            grid = amounts(np.column_stack([d30, d90, loans - d30 - d90, loans]))
            columns = [unit, "30-59 Days Past Due", "90 Days or More Past Due", "Current"]
            rows = list(zip(seg_names, grid, strict=True))
            return [*columns, "Total Loans"], rows, "FinancingReceivableRecordedInvestmentPastDue"

        note_table(
            "Aging table",
            ["Status", "Monitoring"],
            [
                ("30-59 days past due", ["Watch list"]),
                ("90 days or more past due", ["Nonaccrual review"]),
            ],
            aging,
        )
    if not m["no_credit_quality"]:
        doc.para("Credit Quality Indicators", bold=True, italic=True)
        doc.para(say("cqi"))

        def risk_ratings():
            sm = loans * rng.uniform(0.005, 0.02, len(seg_names))
            sub = loans * rng.uniform(0.004, 0.015, len(seg_names))
            grid = amounts(np.column_stack([loans - sm - sub, sm, sub, loans]))
            rows = list(zip(seg_names, grid, strict=True))
            concept = "FinancingReceivableExcludingAccruedInterestBeforeAllowanceForCreditLoss"
            return [unit, "Pass", "Special Mention", "Substandard", "Total"], rows, concept

        note_table(
            "Risk rating table",
            ["Rating", "Description"],
            [("Pass", ["Acceptable risk"]), ("Substandard", ["Well-defined weakness"])],
            risk_ratings,
        )
    if not m["no_collateral"]:
        doc.para("Collateral-Dependent Loans", bold=True, italic=True)
        doc.para(say("collateral"))
    doc.para(say("judgment"))
    doc.text_block_end()


def _statements(doc: _Doc, ctx: dict, prefix: str) -> None:
    s = doc.s
    doc.para(s.name.upper(), bold=True, center=True)
    doc.para(f"{prefix}CONSOLIDATED BALANCE SHEETS", bold=True, center=True)
    doc.para("(Dollars in thousands)", center=True)
    loans, acl = ctx["loans"], round(ctx["acl"])
    cash, secs = loans * 0.06, loans * 0.25
    total = cash + secs + loans - acl + loans * 0.05
    doc.table(
        ["", doc.date, "Prior period"],
        [
            ("Cash and due from banks", [float(round(cash)), float(round(cash * 0.97))]),
            ("Securities available for sale", [float(round(secs)), float(round(secs * 0.98))]),
            ("Loans held for investment", [float(round(loans)), float(round(loans * 0.99))]),
            (
                f"Less: allowance for {ctx['acl_word']} losses",
                [-float(acl), -float(round(acl * 0.98))],
            ),
            ("Total assets", [float(round(total)), float(round(total * 0.99))]),
        ],
        concept="Assets",
    )
    doc.para(f"{prefix}CONSOLIDATED STATEMENTS OF INCOME", bold=True, center=True)
    nii = loans * 0.035 / (1 if doc.form == "10-K" else 4)
    doc.table(
        ["", doc.date, "Prior period"],
        [
            ("Net interest income", [float(round(nii)), float(round(nii * 0.96))]),
            (
                f"Provision for {ctx['acl_word']} losses",
                [float(round(acl * 0.1)), float(round(acl * 0.08))],
            ),
            ("Net income", [float(round(nii * 0.3)), float(round(nii * 0.28))]),
        ],
        concept="NetIncomeLoss",
    )


def _document(
    style: _BankStyle,
    form: str,
    report: pd.Timestamp,
    adoption_date: pd.Timestamp,
    target_bytes: int | None,
) -> str:
    rng = style.rng
    adopted = report >= adoption_date
    compact, iso, days = _date_codes(report)
    growth = (1.012 ** (days / 91.0)) * rng.uniform(0.99, 1.01)
    loans = style.loans_total * growth
    if adopted:
        adoption_sentence = (
            f"On {_fmt_date(adoption_date)}, the Company adopted ASU 2016-13, Financial Instruments - Credit Losses (Topic 326), "
            "using the modified retrospective method."
        )
    else:
        adoption_sentence = (
            "ASU 2016-13, Financial Instruments - Credit Losses (Topic 326), is effective for the Company "
            f"on {_fmt_date(adoption_date)}."
        )
    ctx = {
        "loans": loans,
        "acl": loans * style.acl_rate * rng.uniform(0.97, 1.03),
        "adopted": adopted,
        "acl_word": "credit" if adopted else "loan",
        "adoption_sentence": adoption_sentence,
    }
    doc = _Doc(style, report, form)
    prefix = "" if form == "10-K" else "CONDENSED "
    ticker_ctx = f"{style.cik}-{compact}"
    doc.out.append(
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:ix="http://www.xbrl.org/2013/inlineXBRL" xmlns:xbrli="http://www.xbrl.org/2003/instance" '
        'xmlns:us-gaap="http://fasb.org/us-gaap/2023" xmlns:dei="http://xbrl.sec.gov/dei/2023">\n'
        f"<head><title>{ticker_ctx}</title></head>\n<body>\n"
        '<div style="display:none"><ix:header><ix:hidden>'
        f'<ix:nonNumeric name="dei:DocumentType" contextRef="c-1">{form}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:EntityCentralIndexKey" contextRef="c-1">{style.cik}</ix:nonNumeric>'
        "</ix:hidden><ix:resources>"
        f'<xbrli:context id="c-1"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">{style.cik}</xbrli:identifier></xbrli:entity>'
        f"<xbrli:period><xbrli:endDate>{iso}</xbrli:endDate></xbrli:period></xbrli:context>"
        "</ix:resources></ix:header></div>\n"
    )
    doc.para("UNITED STATES SECURITIES AND EXCHANGE COMMISSION", bold=True, center=True)
    doc.para(f"FORM {form}", bold=True, center=True)
    period = "fiscal year" if form == "10-K" else "quarterly period"
    doc.para(f"For the {period} ended {doc.date}", center=True)
    doc.para(f"{style.name} (Central Index Key {style.cik})", center=True)
    doc.page_break()
    doc.para("TABLE OF CONTENTS", bold=True, center=True)
    doc.table(
        ["", "Page"],
        [
            ("Consolidated Balance Sheets", ["3"]),
            ("Notes to Consolidated Financial Statements", ["6"]),
            ("Allowance for Credit Losses", ["12"]),
        ],
    )
    doc.page_break()
    pad_each = 0
    n_after = len(FILLER_NOTES) - style.n_before
    if target_bytes:
        pad_each = max(0, target_bytes) // 3
    if form == "10-K":
        doc.para(
            "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS OF FINANCIAL CONDITION AND RESULTS OF OPERATIONS",
            bold=True,
        )
        doc.para(
            "Net interest income increased as loans grew and deposit costs stabilized. Asset quality remained stable."
        )
        if pad_each:
            _pad(doc, pad_each, rng, loans)
        doc.page_break()
        doc.para("ITEM 8. FINANCIAL STATEMENTS AND SUPPLEMENTARY DATA", bold=True)
    else:
        doc.para("PART I - FINANCIAL INFORMATION", bold=True, center=True)
        doc.para("Item 1. Financial Statements", bold=True)
        if pad_each:
            # Exhibits and cover tables of very large filings sit before the statements too.
            _pad(doc, pad_each, rng, loans, notes=False)
    _statements(doc, ctx, prefix)
    doc.page_break()
    doc.para(f"NOTES TO {prefix}CONSOLIDATED FINANCIAL STATEMENTS", bold=True, center=True)
    doc.heading(1, "SUMMARY OF SIGNIFICANT ACCOUNTING POLICIES")
    doc.para(
        "The consolidated financial statements include the accounts of the Company and its wholly owned "
        "bank subsidiary. Intercompany balances and transactions have been eliminated. The preparation of "
        "financial statements requires management to make estimates that affect reported amounts."
    )
    titles = [FILLER_NOTES[k] for k in rng.permutation(len(FILLER_NOTES)).tolist()]
    number = _filler_notes(doc, 2, titles[: style.n_before], rng, loans)
    if pad_each and style.n_before:
        _pad(doc, pad_each * style.n_before // max(1, len(FILLER_NOTES)), rng, loans)
    _cecl_note(doc, number, ctx)
    number += 1
    doc.page_break()
    _filler_notes(doc, number, titles[style.n_before :], rng, loans)
    if pad_each:
        _pad(doc, pad_each * (n_after + len(FILLER_NOTES)) // max(1, len(FILLER_NOTES)), rng, loans)
    doc.page_break()
    if form == "10-K":
        doc.para(
            "ITEM 9. CHANGES IN AND DISAGREEMENTS WITH ACCOUNTANTS ON ACCOUNTING AND FINANCIAL DISCLOSURE",
            bold=True,
        )
        doc.para("None.")
    else:
        doc.para(
            "Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations",
            bold=True,
        )
        doc.para(
            "Net interest income increased as loans grew. Asset quality remained stable during the quarter."
        )
        doc.para("Item 4. Controls and Procedures", bold=True)
        doc.para("Disclosure controls and procedures were effective.")
    doc.para("SIGNATURES", bold=True, center=True)
    doc.para(
        f"Pursuant to the requirements of the Securities Exchange Act of 1934, {style.name} has duly caused this report to be signed."
    )
    doc.out.append("</body>\n</html>\n")
    return "".join(doc.out)


_LINE_ITEMS = [f"Line item {i + 1}" for i in range(12)]


def _pad(
    doc: _Doc, nbytes: int, rng: np.random.Generator, scale: float, notes: bool = True
) -> None:
    """Realistic bulk: XBRL-tagged schedules under unnumbered subheadings (no note numbers)."""
    added = 0
    k = 0
    while added < nbytes:
        k += 1
        mark = len(doc.out)
        doc.para(f"Supplementary schedule {k}", bold=True, italic=True)
        doc.para(
            "The following schedule presents supplementary information in thousands of dollars, "
            "prepared on the same basis as the consolidated financial statements."
        )
        vals = (rng.uniform(0.001, 0.1, (12, 4)) * scale).round().tolist()
        doc.table(
            ["(In thousands)", "Q1", "Q2", "Q3", "Q4"],
            list(zip(_LINE_ITEMS, vals, strict=True)),
            concept="OtherLiabilities",
        )
        added += sum(len(x) for x in doc.out[mark:])


def filing_schedule(
    banks: pd.DataFrame, *, seed: int, start="2020-01-01", end="2025-12-31"
) -> pd.DataFrame:
    """Which filings each bank makes: 10-K after each year end, 10-Qs after Q1-Q3, while alive."""
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    cols = ["cik", "ticker", "accession", "form", "filing_date", "report_date"]
    years = range(start_ts.year - 1, end_ts.year + 1)
    months = np.array([f"{y}-{m:02d}" for y in years for m in (3, 6, 9, 12)], "datetime64[M]")
    report = (months + 1).astype("datetime64[D]") - 1
    is_10k = np.arange(len(report)) % 4 == 3
    low, high = np.where(is_10k, 50, 40), np.where(is_10k, 80, 46)
    ciks = banks["cik"].tolist()
    # Each bank's lags are drawn for every quarter, kept or not; with array bounds
    # integers() consumes the stream exactly like one scalar draw per quarter.
    lag = np.zeros((len(ciks), len(report)), dtype=np.int64)
    for i, cik in enumerate(ciks):
        lag[i] = np.random.default_rng([seed, int(cik), 7]).integers(low, high)
    filed = report + lag.astype("timedelta64[D]")
    filed_ns = filed.astype("datetime64[ns]")
    first = pd.to_datetime(banks["first_date"]).to_numpy("datetime64[ns]")[:, None]
    last = pd.to_datetime(banks["last_date"]).to_numpy("datetime64[ns]")[:, None]
    # Negated comparisons so a missing (NaT) first or last date excludes nothing.
    keep = (
        (filed_ns >= start_ts.to_datetime64())
        & (filed_ns <= end_ts.to_datetime64())
        & ~(filed_ns > last)
        & ~(report.astype("datetime64[ns]") < first)
    )
    bank_i, quarter = np.nonzero(keep)
    if not len(bank_i):
        return pd.DataFrame([], columns=cols)
    seq = np.cumsum(keep, axis=1)[bank_i, quarter]
    year = filed[bank_i, quarter].astype("datetime64[Y]").astype(np.int64) + 1970
    # Accessions are joined elementwise on object arrays of their pieces, not formatted per row.
    cik = np.array([str(c).zfill(10) for c in ciks], dtype=object)[bank_i]
    y0 = int(year.min())
    years_mid = np.array([f"-{y % 100:02d}-" for y in range(y0, int(year.max()) + 1)], object)
    seqs = np.array([f"{k:06d}" for k in range(int(seq.max()) + 1)], dtype=object)
    return pd.DataFrame(
        {
            "cik": cik,
            "ticker": banks["ticker"].to_numpy(dtype=object)[bank_i],
            "accession": cik + years_mid[year - y0] + seqs[seq],
            "form": np.array(["10-Q", "10-K"], dtype=object)[is_10k[quarter].astype(np.intp)],
            "filing_date": filed_ns[bank_i, quarter],
            "report_date": report[quarter].astype("datetime64[ns]"),
        },
        columns=cols,
    )


def _quarter_ordinals(dates) -> np.ndarray:
    """Calendar-quarter ordinals of dates (``pd.Period(.., "Q").ordinal``), in numpy."""
    months = np.asarray(dates, dtype="datetime64[M]").astype(np.int64)
    return months // 3


class OpacityPath:
    """Latent opacity by quarter and bank (the universe's truth path), looked up in numpy.

    ``path`` has quarters (a quarterly ``PeriodIndex``, consecutive) as rows and CIKs as
    columns, as ``universe.latent_opacity_path`` makes it.
    """

    def __init__(self, path: pd.DataFrame):
        quarters = pd.PeriodIndex(path.index, freq="Q")
        self.first = int(quarters[0].ordinal)
        if not (np.diff(quarters.asi8) == 1).all():
            raise ValueError("latent opacity path: quarters must be consecutive")
        self.span = f"{quarters[0]}..{quarters[-1]}"
        self.values = path.to_numpy(dtype=float)
        self.column = {str(c).zfill(10): j for j, c in enumerate(path.columns)}

    def of(self, cik: str, report_dates) -> np.ndarray:
        """The bank's latent opacity in the quarter of each report date."""
        rows = _quarter_ordinals(report_dates) - self.first
        j = self.column.get(cik)
        if j is None:
            raise ValueError(f"latent opacity path has no bank with CIK {cik}")
        outside = (rows < 0) | (rows >= len(self.values))
        if outside.any():
            raise ValueError(
                f"latent opacity path covers {self.span}; CIK {cik} has a filing reporting "
                f"{pd.Timestamp(np.asarray(report_dates)[outside][0]).to_period('Q')}"
            )
        return self.values[rows, j]


def bank_documents(
    bank: pd.Series,
    filings: pd.DataFrame,
    *,
    seed: int,
    target_bytes: int | None = None,
    opacity: np.ndarray | None = None,
) -> list[str]:
    """Primary documents of one bank's scheduled filings (its rows of ``filing_schedule``).

    A bank's wording churns from one filing to the next, so its documents are generated
    together, in filing order; the result is the same however the banks are batched.
    ``opacity`` is the bank's latent opacity in each filing's report quarter; without it
    every note is written at the bank's level ``latent_opacity``.
    """
    style = _BankStyle(bank, seed)
    adoption = pd.Period(str(bank["adoption_quarter"]), freq="Q").start_time
    level = float(bank["latent_opacity"])
    per_filing = [level] * len(filings) if opacity is None else opacity.tolist()
    docs = []
    for form, report, latent in zip(
        filings["form"], filings["report_date"], per_filing, strict=True
    ):
        style.set_opacity(latent)
        docs.append(_document(style, form, pd.Timestamp(report), adoption, target_bytes))
    return docs


def _bank_opacity(path: OpacityPath | None, cik: str, rows: pd.DataFrame) -> np.ndarray | None:
    return None if path is None else path.of(cik, rows["report_date"].to_numpy())


def generate_filings(
    banks: pd.DataFrame,
    *,
    seed: int,
    start="2020-01-01",
    end="2025-12-31",
    target_bytes: int | None = None,
    opacity_path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Generated primary documents: `cik, ticker, accession, form, filing_date, report_date, document`.

    Deterministic for a seed. `target_bytes` pads every document to about that size with
    realistic schedules (for throughput benchmarks); by default documents are tens of KB.
    `opacity_path` (quarters x CIKs, the universe's ``opacity_path``) makes each note follow
    its bank's opacity in the report quarter; without it notes stay at each bank's level.
    """
    schedule = filing_schedule(banks, seed=seed, start=start, end=end)
    by_cik = {str(b["cik"]).zfill(10): b for _, b in banks.iterrows()}
    path = None if opacity_path is None else OpacityPath(opacity_path)
    docs: list[str] = []
    for cik, rows in schedule.groupby("cik", sort=False):
        docs.extend(
            bank_documents(
                by_cik[cik],
                rows,
                seed=seed,
                target_bytes=target_bytes,
                opacity=_bank_opacity(path, cik, rows),
            )
        )
    return schedule.assign(document=docs)


class SampleDocumentReader:
    """``read_document`` for generated filings that makes documents on demand, a bank at a time.

    Holding every document of a large sample in memory does not scale (5,000 banks x 24
    filings x ~50 KB is about 6 GB); readers visit filings bank by bank, so only the
    current bank's documents are kept. Picklable, so extraction workers can each hold one.
    """

    def __init__(
        self, banks: pd.DataFrame, *, seed: int, start, end, target_bytes=None, opacity_path=None
    ):
        self.banks = banks.assign(cik=banks["cik"].astype(str).str.zfill(10)).set_index(
            "cik", drop=False
        )
        self.seed, self.start, self.end, self.target_bytes = seed, start, end, target_bytes
        self.opacity_path = None if opacity_path is None else OpacityPath(opacity_path)
        self._cik: str | None = None
        self._docs: dict[str, str] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cik": None, "_docs": {}}

    def __call__(self, filing) -> str:
        cik = str(filing["cik"]).zfill(10)
        if cik != self._cik:
            if cik not in self.banks.index:
                raise FileNotFoundError(f"sample has no bank with CIK {cik}")
            bank = self.banks.loc[[cik]]
            rows = filing_schedule(bank, seed=self.seed, start=self.start, end=self.end)
            docs = bank_documents(
                bank.iloc[0],
                rows,
                seed=self.seed,
                target_bytes=self.target_bytes,
                opacity=_bank_opacity(self.opacity_path, cik, rows),
            )
            self._cik, self._docs = cik, dict(zip(rows["accession"], docs, strict=True))
        try:
            return self._docs[filing["accession"]]
        except KeyError:
            raise FileNotFoundError(
                f"sample has no document for accession {filing['accession']}"
            ) from None
