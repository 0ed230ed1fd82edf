"""question_kind: the shape of answer a question asks for, from its form alone."""

import pytest

from rag_qa.text.question_kind import KINDS, question_kind

CASES = [
    # who
    ("Who led the 2019 inspection?", "who"),
    ("who is the DCS", "who"),
    ("Which inspector carried out the focused visit?", "who"),
    ("tell me the lead inspector for the 2021 inspection", "who"),
    ("Who was responsible for the improvement plan?", "who"),
    ("To whom was the letter addressed?", "who"),
    ("Did Ofsted say who led the visit?", "who"),
    # when
    ("When was the front door launched?", "when"),
    ("what date did the focused visit take place", "when"),
    ("In which year was the trust set up?", "when"),
    ("How long ago was the last full inspection?", "when"),
    ("Since when has the director been in post?", "when"),
    ("Can you tell me when the visit took place?", "when"),
    ("Who was the director when Ofsted wrote in 2022?", "who"),
    # number
    ("How many children were privately fostered?", "number"),
    ("How much did the council spend on agency staff?", "number"),
    ("What proportion of care leavers were in education, employment or training?", "number"),
    ("what percentage of social workers were agency staff", "number"),
    ("What share of case files were inadequate?", "number"),
    ("Tell me the number of children on child protection plans", "number"),
    ("What was the staff turnover rate in 2020?", "number"),
    ("How many cases of concern did inspectors find?", "number"),
    ("How long did the monitoring visit last?", "number"),
    # which
    ("Which project supports young women at risk of exploitation?", "which"),
    ("Which councils were judged inadequate?", "which"),
    ("What is the name of the front door team?", "which"),
    ("What was the early help service called?", "which"),
    ("What model does the council use for social work practice?", "which"),
    ("Through which team do contacts reach children's social care?", "which"),
    ("What does SAFE stand for?", "which"),
    # finding
    ("What did Ofsted say about management oversight in 2018?", "finding"),
    ("what did inspectors find about care leavers", "finding"),
    ("Did Ofsted find that caseloads were too high?", "finding"),
    ("What did the report conclude about the safeguarding board", "finding"),
    ("How well are children in care supported?", "finding"),
    ("How effective is the multi-agency safeguarding hub?", "finding"),
    ("How was the Local Safeguarding Children Board judged in the 2015 inspection?", "finding"),
    ("What were the strengths and areas for improvement?", "finding"),
    ("tell me what the inspectors noted about supervision", "finding"),
    ("What overall effectiveness judgement did the council receive in 2023?", "finding"),
    ("According to the 2015 inspection, what did inspectors say about pathway plans?", "finding"),
    # other
    ("Were social workers' caseloads too high at the 2019 inspection?", "other"),
    ("Why had the council not set up a hub?", "other"),
    ("What happened to staff turnover during 2018?", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("question", "kind"), CASES)
def test_question_kind(question, kind):
    assert question_kind(question) == kind


def test_every_kind_is_exercised_and_known():
    assert {kind for _, kind in CASES} == set(KINDS)


def test_the_kind_does_not_depend_on_the_council_named():
    template = "What did Ofsted find about care leavers in {}?"
    assert {question_kind(template.format(c)) for c in ("Slough", "Kent", "Reading")} == {"finding"}
    assert question_kind("What is the C-SPA in the county?") == "which"  # an acronym, by case
