# ruff: noqa: E501, E731, E741, SIM115  (a data-authoring script: one case per line)
"""Author script of calibration_cases.json: the cases as written (from the article and textbook
knowledge), with the fuller checklists a careful reader records (EXTRA). Run by hand to regenerate the JSON."""
import json
from pathlib import Path

C = []
def case(truth, rank, doc, note, amb=False):
    d = {"schema": "rp-findings/1.1"}
    d.update(doc)
    C.append({"truth": truth, "target_rank": rank, "ambiguous": amb, "note": note, "findings": d})
IVC = lambda r, h, lo, hi, a=None: {k: v for k, v in {"renal_vein_z_mm": r, "hepatic_vein_z_mm": h, "right_atrium_z_mm": a, "tumor_z_mm": [lo, hi]}.items() if v is not None}
L = "leiomyosarcoma"
case(L, 1, dict(age_years=58, sex="female", greatest_dimension_mm=104, enhancement_delta_hu=38, enhancement_pattern="heterogeneous", growth_pattern="mixed", thrombus_delta_hu=28, ivc=IVC(-180, -85, -170, -110), findings=dict(necrosis=True, arises_from_vessel_wall=True, intravascular_component=True, macroscopic_fat=False, calcification=False, contiguous_renal_or_adrenal_mass=False)), "IVC segment 2, mixed growth, woman in her fifties")
case(L, 1, dict(age_years=61, sex="female", greatest_dimension_mm=130, enhancement_pattern="heterogeneous", growth_pattern="extravascular", findings=dict(necrosis=True, hemorrhage=True, lobulated=True, perirenal_or_posterior_pararenal=True, collateral_vessels=True, macroscopic_fat=False, multiple_adenopathy=False)), "extravascular, perirenal, necrotic")
case(L, 1, dict(age_years=55, sex="female", growth_pattern="intravascular", thrombus_delta_hu=35, ivc=IVC(-150, -60, -230, -170), findings=dict(leg_edema=True, arises_from_vessel_wall=True)), "purely intravascular, infrarenal, leg oedema")
case(L, 2, dict(age_years=66, sex="male", greatest_dimension_mm=150, enhancement_delta_hu=35, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, cystic_change=True, organ_invasion=True, macroscopic_fat=False, calcification=False, perirenal_or_posterior_pararenal=True)), "man, large necrotic invasive mass without fat: dedifferentiated liposarcoma and metastasis also fit", amb=True)
case(L, 1, dict(age_years=49, sex="female", side="left", greatest_dimension_mm=85, enhancement_percent=60, enhancement_pattern="heterogeneous", findings=dict(high_t2_signal=True, necrosis=True, vascular_invasion=True, intravascular_component=True, macroscopic_fat=False)), "left renal vein involvement at MRI")
case(L, 1, dict(age_years=63, sex="female", greatest_dimension_mm=112, growth_pattern="mixed", thrombus_delta_hu=30, ivc=IVC(-160, -40, -120, -10, 0), findings=dict(budd_chiari_signs=True, arises_from_vessel_wall=True, necrosis=True)), "suprahepatic IVC extension with Budd-Chiari")
case(L, 2, dict(age_years=70, sex="female", greatest_dimension_mm=95, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, macroscopic_fat=False, distant_metastases=True, perirenal_or_posterior_pararenal=True)), "lung metastases at presentation, no known primary: metastatic disease from elsewhere also fits", amb=True)
case(L, 2, dict(age_years=57, sex="male", greatest_dimension_mm=120, grade=3, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, macroscopic_fat=False)), "biopsy grade 3 sarcoma without fat: leiomyosarcoma or high-grade liposarcoma", amb=True)
case(L, 1, dict(age_years=52, sex="female", greatest_dimension_mm=90, enhancement_delta_hu=45, growth_pattern="mixed", findings=dict(vascular_invasion=True, intravascular_component=True, collateral_vessels=True, contiguous_renal_or_adrenal_mass=False, claw_sign=False)), "mixed growth into the IVC, no organ of origin")

Y = "lymphoma"
case(Y, 1, dict(age_years=47, sex="male", greatest_dimension_mm=95, enhancement_pattern="mild_homogeneous", findings=dict(b_symptoms=True, elevated_ldh=True, homogeneous=True, well_defined_margins=True, necrosis=False, calcification=False, vascular_invasion=False, aorta_displaced_from_spine=True, multiple_adenopathy=True)), "classic nodal conglomerate with B symptoms")
case(Y, 1, dict(age_years=68, sex="female", findings=dict(multiple_adenopathy=True, homogeneous=True, vascular_encasement_without_narrowing=True, restricted_diffusion=True, hepatosplenomegaly=True)), "nodes encasing vessels, splenomegaly")
case(Y, 1, dict(age_years=35, sex="male", enhancement_pattern="mild_homogeneous", findings=dict(extranodal_disease=True, multiple_adenopathy=True, b_symptoms=True)), "extranodal disease and B symptoms")
case(Y, 2, dict(age_years=72, sex="female", greatest_dimension_mm=80, enhancement_delta_hu=25, enhancement_pattern="mild_homogeneous", findings=dict(homogeneous=True, well_defined_margins=True, aorta_displaced_from_spine=True)), "solitary homogeneous mass lifting the aorta, no clinical clues", amb=True)
case(Y, 1, dict(age_years=55, sex="male", findings=dict(periaortic_l4_location=True, aorta_displaced_from_spine=True, vascular_encasement_without_narrowing=True, homogeneous=True, multiple_adenopathy=True, elevated_ldh=True)), "periaortic but lifting the aorta, with nodes and raised LDH")
case(Y, 1, dict(age_years=60, sex="male", greatest_dimension_mm=70, enhancement_pattern="mild_homogeneous", findings=dict(elevated_ldh=True, multiple_adenopathy=True, homogeneous=True, necrosis=False, hydronephrosis=True)), "nodal mass with hydronephrosis")
case(Y, 1, dict(age_years=40, sex="female", findings=dict(b_symptoms=True, homogeneous=True, multiple_adenopathy=True, restricted_diffusion=True, high_t2_signal=True)), "MRI: homogeneous restricting nodes")
case(Y, 1, dict(age_years=63, sex="male", greatest_dimension_mm=110, enhancement_delta_hu=22, findings=dict(homogeneous=True, multiple_adenopathy=True, extranodal_disease=True, necrosis=False, calcification=False, vascular_invasion=False)), "bulky nodes with bowel involvement")

N = "nodal_metastases"
case(N, 1, dict(age_years=31, sex="male", greatest_dimension_mm=75, enhancement_pattern="heterogeneous", findings=dict(known_primary_malignancy=True, elevated_tumor_markers=True, necrosis=True, multiple_adenopathy=True)), "known testicular primary, raised markers")
case(N, 1, dict(age_years=68, sex="male", findings=dict(known_primary_malignancy=True, elevated_tumor_markers=True, multiple_adenopathy=True, homogeneous=True)), "prostate cancer with raised PSA")
case(N, 1, dict(age_years=52, sex="female", greatest_dimension_mm=45, findings=dict(known_primary_malignancy=True, multiple_adenopathy=True, necrosis=True)), "cervical cancer, necrotic nodes")
case(N, 1, dict(age_years=24, sex="male", greatest_dimension_mm=90, enhancement_pattern="heterogeneous", findings=dict(elevated_tumor_markers=True, necrosis=True, multiple_adenopathy=True)), "young man, raised markers, necrotic nodes, primary not yet known")
case(N, 1, dict(age_years=64, sex="male", findings=dict(known_primary_malignancy=True, contiguous_renal_or_adrenal_mass=True, multiple_adenopathy=True, intravascular_component=False)), "renal cancer with nodes, no thrombus")
case(N, 2, dict(age_years=60, sex="female", greatest_dimension_mm=110, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, multiple_adenopathy=True, distant_metastases=True)), "necrotic mass with nodes and distant spread, no history", amb=True)
case(N, 1, dict(age_years=70, sex="male", greatest_dimension_mm=60, enhancement_pattern="heterogeneous", findings=dict(known_primary_malignancy=True, necrosis=True, multiple_adenopathy=False)), "colorectal cancer, single necrotic node")
case(N, 1, dict(age_years=58, sex="female", greatest_dimension_mm=55, findings=dict(known_primary_malignancy=True, multiple_adenopathy=True, ascites=True)), "ovarian cancer with nodes and ascites")

P = "liposarcoma"
case(P, 1, dict(age_years=64, sex="male", greatest_dimension_mm=240, findings=dict(macroscopic_fat=True, calcification=True, well_defined_margins=True, arises_from_vessel_wall=False)), "huge fatty mass with calcification")
case(P, 1, dict(age_years=58, sex="female", greatest_dimension_mm=200, findings=dict(macroscopic_fat=True, well_defined_margins=True, perirenal_or_posterior_pararenal=True)), "well-differentiated, perirenal fat")
case(P, 1, dict(age_years=67, sex="male", greatest_dimension_mm=180, enhancement_pattern="heterogeneous", findings=dict(macroscopic_fat=True, necrosis=True, calcification=True)), "fatty mass with a necrotic dedifferentiated nodule")
case(P, 2, dict(age_years=55, sex="female", greatest_dimension_mm=160, enhancement_pattern="heterogeneous", findings=dict(macroscopic_fat=False, calcification=True, necrosis=True)), "no fat but calcified: dedifferentiated liposarcoma vs leiomyosarcoma", amb=True)
case(P, 1, dict(age_years=71, sex="male", greatest_dimension_mm=130, enhancement_pattern="mild_homogeneous", findings=dict(macroscopic_fat=True, homogeneous=False)), "fatty mass displacing the kidney")
case(P, 1, dict(age_years=50, sex="male", greatest_dimension_mm=190, grade=2, findings=dict(macroscopic_fat=True)), "grade 2 on biopsy, fat")
case(P, 1, dict(age_years=62, sex="female", greatest_dimension_mm=150, findings=dict(macroscopic_fat=True, perirenal_or_posterior_pararenal=True, calcification=False, well_defined_margins=True)), "fat-containing perirenal mass")

F = "neurofibroma"
case(F, 1, dict(age_years=27, sex="male", enhancement_pattern="uniform", findings=dict(neurofibromatosis_type1=True, homogeneous=True, hypoattenuating_ct=True, target_sign_t2=True, dumbbell_shape=True, paraspinal_location=True)), "NF1, dumbbell, target sign")
case(F, 1, dict(age_years=33, sex="male", greatest_dimension_mm=40, findings=dict(neurofibromatosis_type1=True, paraspinal_location=True, high_t2_signal=True, target_sign_t2=True)), "NF1 with paraspinal target lesion")
case(F, 2, dict(age_years=24, sex="female", enhancement_pattern="uniform", findings=dict(dumbbell_shape=True, paraspinal_location=True, homogeneous=True, hypoattenuating_ct=True)), "sporadic dumbbell nerve sheath tumour: schwannoma equally possible", amb=True)
case(F, 1, dict(age_years=19, sex="male", greatest_dimension_mm=120, findings=dict(neurofibromatosis_type1=True, infiltrative_margins=True, paraspinal_location=True, hypoattenuating_ct=True)), "plexiform neurofibroma in NF1")
case(F, 2, dict(age_years=38, sex="male", findings=dict(target_sign_t2=True, homogeneous=True, hypoattenuating_ct=True)), "target sign without NF1")
case(F, 1, dict(age_years=30, sex="female", enhancement_pattern="uniform", findings=dict(neurofibromatosis_type1=True, paraspinal_location=True, homogeneous=True)), "NF1, homogeneous paraspinal mass")

S = "schwannoma"
case(S, 1, dict(age_years=36, sex="female", greatest_dimension_mm=55, findings=dict(presacral_location=True, homogeneous=True, well_defined_margins=True, calcification=True, vascular_invasion=False, intravascular_component=False)), "presacral, calcified, round")
case(S, 1, dict(age_years=45, sex="female", greatest_dimension_mm=80, enhancement_pattern="heterogeneous", findings=dict(paraspinal_location=True, cystic_change=True, well_defined_margins=True, vascular_invasion=False, high_t2_signal=True)), "large paraspinal schwannoma with cystic change")
case(S, 1, dict(age_years=50, sex="male", greatest_dimension_mm=55, findings=dict(paraspinal_location=True, homogeneous=True, well_defined_margins=True, calcification=True)), "round calcified paraspinal mass")
case(S, 1, dict(age_years=42, sex="female", greatest_dimension_mm=70, findings=dict(presacral_location=True, cystic_change=True, high_t2_signal=True)), "presacral cystic mass")
case(S, 2, dict(age_years=28, sex="female", enhancement_pattern="heterogeneous", findings=dict(paraspinal_location=True, dumbbell_shape=True, cystic_change=True)), "dumbbell with cystic change: neurofibroma also fits", amb=True)
case(S, 2, dict(age_years=39, sex="male", greatest_dimension_mm=45, enhancement_pattern="uniform", findings=dict(paraspinal_location=True, homogeneous=True, well_defined_margins=True, calcification=False)), "small homogeneous paraspinal mass in a man", amb=True)
case(S, 2, dict(age_years=52, sex="female", findings=dict(paraspinal_location=True, calcification=True, cystic_change=True, hypoattenuating_ct=True)), "calcified paraspinal mass, older patient: ganglioneuroma also fits")

G = "ganglioneuroma"
case(G, 1, dict(age_years=14, enhancement_pattern="delayed_progressive", findings=dict(paraspinal_location=True, hypoattenuating_ct=True, lobulated=True, calcification=True, necrosis=False, hemorrhage=False)), "adolescent, calcified paravertebral mass")
case(G, 1, dict(age_years=25, sex="female", enhancement_pattern="mild_homogeneous", findings=dict(paraspinal_location=True, hypoattenuating_ct=True, calcification=True, whorled_appearance=True, necrosis=False, well_defined_margins=True, lobulated=True)), "young adult: whorled, calcified, hypoattenuating")
case(G, 1, dict(age_years=32, sex="male", enhancement_pattern="delayed_progressive", findings=dict(paraspinal_location=True, hypoattenuating_ct=True, high_t2_signal=True, whorled_appearance=True, hemorrhage=False)), "adult, progressive enhancement, whorled at MRI")
case(G, 1, dict(age_years=9, sex="female", findings=dict(paraspinal_location=True, calcification=True, hypoattenuating_ct=True)), "child, calcified paraspinal mass")
case(G, 1, dict(age_years=36, sex="male", greatest_dimension_mm=70, enhancement_delta_hu=12, findings=dict(paraspinal_location=True, calcification=True, necrosis=False, hypoattenuating_ct=True)), "adult, weakly enhancing calcified paraspinal mass")
case(G, 2, dict(age_years=29, sex="female", findings=dict(whorled_appearance=True, high_t2_signal=True, lobulated=True, well_defined_margins=True, paraspinal_location=True)), "whorled paraspinal mass, no calcification recorded")

A = "paraganglioma"
case(A, 1, dict(age_years=29, greatest_dimension_mm=70, enhancement_pattern="intense", findings=dict(paraganglioma_syndrome=True, catecholamine_excess=True, organ_of_zuckerkandl_location=True, necrosis=True)), "SDH carrier with catecholamine excess")
case(A, 1, dict(age_years=35, sex="female", greatest_dimension_mm=55, enhancement_pattern="intense", findings=dict(catecholamine_excess=True, organ_of_zuckerkandl_location=True)), "hypertensive crises, organ of Zuckerkandl")
case(A, 1, dict(age_years=42, sex="male", enhancement_pattern="intense", findings=dict(organ_of_zuckerkandl_location=True, necrosis=True, hemorrhage=True, lobulated=True, calcification=True)), "avid necrotic mass at the IMA origin")
case(A, 1, dict(age_years=48, sex="female", greatest_dimension_mm=50, enhancement_pattern="intense", findings=dict(paraganglioma_syndrome=True)), "VHL with an avid para-aortic mass")
case(A, 3, dict(age_years=55, sex="male", greatest_dimension_mm=90, enhancement_delta_hu=60, enhancement_pattern="intense", findings=dict(necrosis=True, lobulated=True)), "avid necrotic mass, no history or typical site", amb=True)
case(A, 1, dict(age_years=31, sex="female", enhancement_pattern="heterogeneous", findings=dict(catecholamine_excess=True, fluid_fluid_level=True, hemorrhage=True)), "catecholamine excess, haemorrhagic mass with fluid levels")
case(A, 1, dict(age_years=24, sex="male", enhancement_pattern="intense", findings=dict(neurofibromatosis_type1=True, organ_of_zuckerkandl_location=True)), "NF1 with an avid mass at the organ of Zuckerkandl")

T = "teratoma"
case(T, 1, dict(age_years=2, sex="female", findings=dict(macroscopic_fat=True, calcification=True, cystic_change=True, fat_fluid_level=True)), "infant, fat-fluid level")
case(T, 1, dict(age_years=19, sex="female", enhancement_pattern="heterogeneous", findings=dict(macroscopic_fat=True, calcification=True, cystic_change=True)), "young woman, fat, calcium and cysts")
case(T, 1, dict(age_years=1, sex="male", findings=dict(calcification=True, cystic_change=True, macroscopic_fat=True)), "infant boy, mixed mass")
case(T, 1, dict(age_years=22, sex="male", findings=dict(elevated_tumor_markers=True, macroscopic_fat=True, calcification=True, cystic_change=True)), "immature teratoma with raised AFP")
case(T, 1, dict(age_years=30, sex="female", findings=dict(fat_fluid_level=True, calcification=True)), "sebum-fluid level")
case(T, 2, dict(age_years=45, sex="female", greatest_dimension_mm=120, findings=dict(macroscopic_fat=True, calcification=True)), "middle-aged woman, fat and calcium: at this age liposarcoma is the likelier of the two, teratoma must stay second")

R = "renal_adrenal_neoplasm_with_thrombus"
case(R, 1, dict(age_years=63, sex="male", greatest_dimension_mm=90, growth_pattern="mixed", thrombus_delta_hu=45, ivc=IVC(-150, -60, -150, -100), findings=dict(hematuria=True, contiguous_renal_or_adrenal_mass=True, intravascular_component=True)), "renal cancer with IVC thrombus")
case(R, 1, dict(age_years=48, sex="female", greatest_dimension_mm=125, findings=dict(functional_adrenal_symptoms=True, contiguous_renal_or_adrenal_mass=True, intravascular_component=True, necrosis=True)), "adrenocortical carcinoma with thrombus")
case(R, 1, dict(age_years=70, sex="male", side="right", growth_pattern="mixed", findings=dict(contiguous_renal_or_adrenal_mass=True, claw_sign=True, intravascular_component=True)), "claw sign with the kidney, thrombus")
case(R, 1, dict(age_years=58, sex="male", thrombus_delta_hu=40, findings=dict(intracardiac_extension=True, contiguous_renal_or_adrenal_mass=True)), "renal tumour reaching the right atrium")
case(R, 2, dict(age_years=66, sex="female", growth_pattern="mixed", thrombus_delta_hu=40, findings=dict(hematuria=True)), "haematuria, enhancing IVC thrombus, organ of origin not assessed: IVC leiomyosarcoma also fits", amb=True)
case(R, 1, dict(age_years=52, sex="male", side="right", greatest_dimension_mm=140, enhancement_pattern="heterogeneous", findings=dict(contiguous_renal_or_adrenal_mass=True, intravascular_component=True, necrosis=True)), "large right adrenal mass with thrombus")
case(R, 1, dict(age_years=61, sex="male", findings=dict(contiguous_renal_or_adrenal_mass=True, vascular_invasion=True, intravascular_component=True, known_primary_malignancy=True)), "known renal cancer invading the renal vein and IVC")

H = "hematoma"
case(H, 1, dict(age_years=74, sex="male", greatest_dimension_mm=110, enhancement_delta_hu=3, findings=dict(anticoagulation=True, high_attenuation_collection=True, fluid_fluid_level=True)), "anticoagulated, non-enhancing dense collection")
case(H, 1, dict(enhancement_percent=2, enhancement_pattern="none", findings=dict(trauma=True, t1_hyperintense_nonsuppressing=True, hemosiderin_rim=True)), "MRI after trauma")
case(H, 1, dict(age_years=80, sex="female", findings=dict(anticoagulation=True, active_extravasation=True, high_attenuation_collection=True)), "active bleeding on anticoagulation")
case(H, 1, dict(age_years=30, sex="male", enhancement_delta_hu=2, findings=dict(trauma=True, signs_of_trauma=True, high_attenuation_collection=True)), "young man after a fall")
case(H, 1, dict(age_years=65, sex="female", greatest_dimension_mm=90, enhancement_pattern="none", findings=dict(blood_dyscrasia=True, hemorrhage=True)), "haemophilia carrier, non-enhancing bleed")
case(H, 2, dict(age_years=58, sex="male", greatest_dimension_mm=80, findings=dict(hemorrhage=True, high_attenuation_collection=True, homogeneous=False)), "dense heterogeneous collection, single phase, no history: a bleeding tumour also fits", amb=True)
case(H, 1, dict(age_years=71, sex="female", enhancement_percent=3, findings=dict(anticoagulation=True, hemosiderin_rim=True, t1_hyperintense_nonsuppressing=True)), "subacute haematoma at MRI")

B = "retroperitoneal_fibrosis"
case(B, 1, dict(age_years=57, sex="male", enhancement_pattern="delayed_progressive", findings=dict(igg4_related_disease=True, periaortic_l4_location=True, aorta_hugs_spine=True, ureters_medially_deviated=True, low_t2_signal=True)), "IgG4 disease, classic periaortic plaque")
case(B, 1, dict(age_years=62, sex="male", findings=dict(periaortic_l4_location=True, aorta_hugs_spine=True, hydronephrosis=True, ureters_medially_deviated=True)), "periaortic cuff with obstructed kidneys")
case(B, 1, dict(age_years=55, sex="female", enhancement_pattern="delayed_progressive", findings=dict(rpf_predisposition=True, periaortic_l4_location=True, low_t2_signal=True)), "drug-related, fibrotic stage")
case(B, 1, dict(age_years=48, sex="male", enhancement_pattern="mild_homogeneous", findings=dict(periaortic_l4_location=True, infiltrative_margins=True, vascular_encasement_without_narrowing=True, homogeneous=True, hydronephrosis=True)), "infiltrative periaortic tissue encasing vessels")
case(B, 2, dict(age_years=66, sex="male", enhancement_pattern="uniform", findings=dict(periaortic_l4_location=True, aorta_hugs_spine=True, high_t2_signal=True)), "inflammatory stage: bright T2, enhancing; lymphoma also fits", amb=True)
case(B, 1, dict(age_years=59, sex="female", findings=dict(igg4_related_disease=True, periaortic_l4_location=True, vascular_encasement_without_narrowing=True)), "IgG4 disease, periaortic encasement")
case(B, 1, dict(age_years=70, sex="male", greatest_dimension_mm=40, findings=dict(periaortic_l4_location=True, ureters_medially_deviated=True, hydronephrosis=True)), "periaortic tissue, medial ureters")

K = "castleman_disease"
case(K, 1, dict(age_years=33, greatest_dimension_mm=60, enhancement_pattern="early_intense", findings=dict(well_defined_margins=True, calcification=True, satellite_nodules=True)), "localised: early intense, satellite nodules")
case(K, 1, dict(age_years=41, findings=dict(multiple_adenopathy=True, homogeneous=True, hepatosplenomegaly=True, ascites=True, retroperitoneal_fascial_thickening=True)), "diffuse type")
case(K, 1, dict(age_years=28, sex="female", greatest_dimension_mm=50, enhancement_pattern="early_intense", findings=dict(well_defined_margins=True, homogeneous=True, high_t2_signal=True)), "young woman, early intense homogeneous mass")
case(K, 1, dict(age_years=36, sex="male", greatest_dimension_mm=70, enhancement_pattern="early_intense", findings=dict(necrosis=True, well_defined_margins=True, satellite_nodules=True)), "localised with necrosis and satellites")
case(K, 2, dict(age_years=44, sex="female", greatest_dimension_mm=45, enhancement_pattern="intense", findings=dict(well_defined_margins=True, calcification=True, homogeneous=True)), "avid calcified well-defined mass: paraganglioma also fits", amb=True)
case(K, 2, dict(age_years=30, sex="male", enhancement_pattern="early_intense", findings=dict(multiple_adenopathy=True, satellite_nodules=True, b_symptoms=True)), "nodes with systemic symptoms: lymphoma also fits", amb=True)

O = "other"
case(O, 5, dict(age_years=35, sex="female", greatest_dimension_mm=80, enhancement_pattern="delayed_progressive", findings=dict(infiltrative_margins=True, low_t2_signal=True, homogeneous=True, periaortic_l4_location=False)), "desmoid-type fibromatosis: not in the named list; other must stay in the top five")
case(O, 5, dict(age_years=50, sex="male", greatest_dimension_mm=90, enhancement_delta_hu=5, findings=dict(cystic_change=True, homogeneous=True, well_defined_margins=True, high_attenuation_collection=False, hemorrhage=False)), "lymphocele or urinoma after surgery: not in the named list; other must stay in the top five")


# Ambiguous pictures recorded in full, as the reader tried them: many correlated findings
# ticked, none decisive. These are where naive Bayes counted the same evidence several times.
FULL = [
 (P, 2, dict(age_years=64, sex="male", greatest_dimension_mm=140, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, cystic_change=True, hemorrhage=True, homogeneous=False, macroscopic_fat=False, calcification=False, lobulated=True, well_defined_margins=True, perirenal_or_posterior_pararenal=True, organ_invasion=True, vascular_invasion=False, intravascular_component=False, collateral_vessels=False, multiple_adenopathy=False, lymph_node_metastases=False, distant_metastases=False)), "dedifferentiated liposarcoma without fat, recorded in full: leiomyosarcoma fits as well"),
 (L, 2, dict(age_years=59, sex="female", greatest_dimension_mm=125, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, cystic_change=True, hemorrhage=True, homogeneous=False, macroscopic_fat=False, calcification=False, lobulated=True, perirenal_or_posterior_pararenal=True, collateral_vessels=True, organ_invasion=True, multiple_adenopathy=False)), "necrotic perirenal mass in a woman, recorded in full: a fat-poor liposarcoma or a metastasis also fit"),
 (N, 3, dict(age_years=66, sex="male", greatest_dimension_mm=100, enhancement_pattern="heterogeneous", findings=dict(necrosis=True, cystic_change=True, homogeneous=False, infiltrative_margins=True, multiple_adenopathy=False, known_primary_malignancy=False, elevated_tumor_markers=False, macroscopic_fat=False, calcification=False, contiguous_renal_or_adrenal_mass=False, intravascular_component=False)), "solitary necrotic nodal mass from an occult primary: a sarcoma looks the same"),
 (Y, 2, dict(age_years=62, sex="male", enhancement_pattern="mild_homogeneous", findings=dict(periaortic_l4_location=True, vascular_encasement_without_narrowing=True, homogeneous=True, hydronephrosis=True, ureters_medially_deviated=False, multiple_adenopathy=False, b_symptoms=False, restricted_diffusion=True)), "periaortic lymphoma encasing the aorta with obstructed kidneys (ureters pushed out, not drawn in): fibrosis fits as well"),
 (B, 2, dict(age_years=55, sex="male", enhancement_pattern="uniform", findings=dict(periaortic_l4_location=True, aorta_hugs_spine=True, vascular_encasement_without_narrowing=True, homogeneous=True, high_t2_signal=True, restricted_diffusion=True, hydronephrosis=True, multiple_adenopathy=True)), "inflammatory-stage fibrosis with reactive nodes: lymphoma fits as well"),
 (K, 2, dict(age_years=34, sex="female", greatest_dimension_mm=55, enhancement_pattern="intense", findings=dict(well_defined_margins=True, lobulated=True, homogeneous=False, necrosis=True, calcification=True, high_t2_signal=True, organ_of_zuckerkandl_location=False)), "avid necrotic calcified mass in a young woman: paraganglioma fits as well"),
 (S, 2, dict(age_years=30, sex="female", enhancement_pattern="mild_homogeneous", findings=dict(paraspinal_location=True, hypoattenuating_ct=True, calcification=True, lobulated=True, well_defined_margins=True, homogeneous=True, high_t2_signal=True, whorled_appearance=False, necrosis=False, hemorrhage=False)), "calcified hypoattenuating paraspinal mass in a young woman: ganglioneuroma fits as well"),
 (L, 3, dict(age_years=69, sex="female", greatest_dimension_mm=95, enhancement_delta_hu=12, findings=dict(hemorrhage=True, fluid_fluid_level=True, high_attenuation_collection=True, t1_hyperintense_nonsuppressing=True, anticoagulation=False, trauma=False, homogeneous=False, necrosis=True, contiguous_renal_or_adrenal_mass=False)), "haemorrhagic leiomyosarcoma with weak measured enhancement: a haematoma or a necrotic metastasis fit as well"),
 (T, 2, dict(age_years=28, sex="female", greatest_dimension_mm=150, findings=dict(macroscopic_fat=True, calcification=True, cystic_change=False, homogeneous=False, well_defined_margins=True)), "fatty calcified mass in a young woman without cysts: liposarcoma fits as well"),
 (L, 2, dict(age_years=60, sex="female", greatest_dimension_mm=110, enhancement_pattern="heterogeneous", growth_pattern="mixed", thrombus_delta_hu=40, findings=dict(intravascular_component=True, vascular_invasion=True, contiguous_renal_or_adrenal_mass=True, claw_sign=False, arises_from_vessel_wall=True, perirenal_or_posterior_pararenal=True, necrosis=True, homogeneous=False)), "renal-vein leiomyosarcoma invading the kidney: a renal cancer with thrombus fits as well"),
 (S, 2, dict(age_years=35, sex="male", enhancement_pattern="uniform", findings=dict(paraspinal_location=True, dumbbell_shape=True, homogeneous=True, hypoattenuating_ct=True, target_sign_t2=False, high_t2_signal=True, neurofibromatosis_type1=False, calcification=False, cystic_change=False, well_defined_margins=True)), "sporadic dumbbell nerve sheath tumour in a man: neurofibroma fits as well"),
 (A, 2, dict(age_years=45, sex="male", greatest_dimension_mm=80, enhancement_pattern="intense", findings=dict(necrosis=True, hemorrhage=True, lobulated=True, homogeneous=False, calcification=False, catecholamine_excess=False, organ_of_zuckerkandl_location=False, paraspinal_location=False)), "non-functioning avid necrotic paraganglioma away from its usual site: a sarcoma or a metastasis fit as well"),
]
for truth, rank, d, note in FULL:
    case(truth, rank, d, note, amb=True)

# Clear pictures recorded in full (the counterpart of FULL): the typical findings and the expected
# negatives, as a careful reader ticks them.
CLEAR_FULL = [
 (L, 1, dict(age_years=56, sex="female", side="right", greatest_dimension_mm=118, enhancement_delta_hu=40, enhancement_pattern="heterogeneous", growth_pattern="mixed", thrombus_delta_hu=33, ivc=IVC(-170, -75, -160, -100, -30), findings=dict(arises_from_vessel_wall=True, intravascular_component=True, vascular_invasion=True, necrosis=True, cystic_change=True, homogeneous=False, lobulated=True, collateral_vessels=True, macroscopic_fat=False, calcification=False, contiguous_renal_or_adrenal_mass=False, claw_sign=False, multiple_adenopathy=False, lymph_node_metastases=False, distant_metastases=False, b_symptoms=False)), "IVC leiomyosarcoma recorded in full"),
 (Y, 1, dict(age_years=52, sex="male", greatest_dimension_mm=105, enhancement_delta_hu=24, enhancement_pattern="mild_homogeneous", findings=dict(b_symptoms=True, elevated_ldh=True, homogeneous=True, well_defined_margins=True, necrosis=False, calcification=False, macroscopic_fat=False, vascular_invasion=False, intravascular_component=False, vascular_encasement_without_narrowing=True, aorta_displaced_from_spine=True, aorta_hugs_spine=False, multiple_adenopathy=True, extranodal_disease=True, hepatosplenomegaly=True, restricted_diffusion=True, lymph_node_metastases=True)), "lymphoma recorded in full"),
 (N, 1, dict(age_years=29, sex="male", greatest_dimension_mm=85, enhancement_pattern="heterogeneous", findings=dict(known_primary_malignancy=True, elevated_tumor_markers=True, elevated_ldh=True, multiple_adenopathy=True, necrosis=True, cystic_change=True, homogeneous=False, macroscopic_fat=False, calcification=False, vascular_invasion=False, intravascular_component=False, lymph_node_metastases=True, distant_metastases=True)), "testicular germ cell metastases recorded in full"),
 (P, 1, dict(age_years=61, sex="male", side="left", greatest_dimension_mm=230, enhancement_pattern="mild_homogeneous", findings=dict(macroscopic_fat=True, calcification=True, homogeneous=False, well_defined_margins=True, perirenal_or_posterior_pararenal=True, necrosis=False, vascular_invasion=False, arises_from_vessel_wall=False, intravascular_component=False, multiple_adenopathy=False, lymph_node_metastases=False, distant_metastases=False, hydronephrosis=True)), "well-differentiated liposarcoma recorded in full"),
 (F, 1, dict(age_years=26, sex="male", greatest_dimension_mm=45, enhancement_pattern="uniform", findings=dict(neurofibromatosis_type1=True, paraspinal_location=True, dumbbell_shape=True, target_sign_t2=True, homogeneous=True, hypoattenuating_ct=True, high_t2_signal=True, well_defined_margins=True, calcification=False, necrosis=False, cystic_change=False, vascular_invasion=False)), "NF1 neurofibroma recorded in full"),
 (S, 1, dict(age_years=41, sex="female", greatest_dimension_mm=65, enhancement_pattern="heterogeneous", findings=dict(presacral_location=True, well_defined_margins=True, cystic_change=True, calcification=True, homogeneous=False, high_t2_signal=True, necrosis=False, vascular_invasion=False, intravascular_component=False, organ_invasion=False, multiple_adenopathy=False, neurofibromatosis_type1=False)), "presacral schwannoma recorded in full"),
 (G, 1, dict(age_years=17, sex="female", greatest_dimension_mm=75, enhancement_pattern="delayed_progressive", findings=dict(paraspinal_location=True, hypoattenuating_ct=True, calcification=True, whorled_appearance=True, lobulated=True, well_defined_margins=True, homogeneous=True, high_t2_signal=True, necrosis=False, hemorrhage=False, vascular_invasion=False, multiple_adenopathy=False)), "ganglioneuroma recorded in full"),
 (A, 1, dict(age_years=33, sex="male", greatest_dimension_mm=65, enhancement_delta_hu=85, enhancement_pattern="intense", findings=dict(catecholamine_excess=True, paraganglioma_syndrome=True, organ_of_zuckerkandl_location=True, necrosis=True, hemorrhage=True, lobulated=True, homogeneous=False, calcification=True, macroscopic_fat=False, vascular_invasion=False, multiple_adenopathy=False)), "paraganglioma recorded in full"),
 (T, 1, dict(age_years=4, sex="female", greatest_dimension_mm=90, findings=dict(macroscopic_fat=True, calcification=True, cystic_change=True, fat_fluid_level=True, homogeneous=False, well_defined_margins=True, necrosis=False, vascular_invasion=False, multiple_adenopathy=False, elevated_tumor_markers=False)), "mature teratoma recorded in full"),
 (R, 1, dict(age_years=64, sex="male", side="right", greatest_dimension_mm=95, enhancement_pattern="heterogeneous", growth_pattern="mixed", thrombus_delta_hu=48, ivc=IVC(-150, -60, -150, -45, -10), findings=dict(hematuria=True, contiguous_renal_or_adrenal_mass=True, claw_sign=True, intravascular_component=True, vascular_invasion=True, arises_from_vessel_wall=False, necrosis=True, homogeneous=False, collateral_vessels=True, macroscopic_fat=False, lymph_node_metastases=False)), "renal cell carcinoma with thrombus recorded in full"),
 (H, 1, dict(age_years=77, sex="female", greatest_dimension_mm=120, enhancement_delta_hu=4, enhancement_pattern="none", findings=dict(anticoagulation=True, high_attenuation_collection=True, fluid_fluid_level=True, hemorrhage=True, homogeneous=False, necrosis=False, macroscopic_fat=False, calcification=False, vascular_invasion=False, retroperitoneal_fascial_thickening=True, active_extravasation=False)), "anticoagulant haematoma recorded in full"),
 (B, 1, dict(age_years=61, sex="male", greatest_dimension_mm=45, enhancement_pattern="delayed_progressive", findings=dict(igg4_related_disease=True, periaortic_l4_location=True, aorta_hugs_spine=True, aorta_displaced_from_spine=False, ureters_medially_deviated=True, hydronephrosis=True, vascular_encasement_without_narrowing=True, low_t2_signal=True, homogeneous=True, necrosis=False, multiple_adenopathy=False, infiltrative_margins=True)), "fibrotic-stage retroperitoneal fibrosis recorded in full"),
 (K, 1, dict(age_years=31, sex="female", greatest_dimension_mm=62, enhancement_pattern="early_intense", findings=dict(well_defined_margins=True, satellite_nodules=True, calcification=True, homogeneous=True, high_t2_signal=True, necrosis=False, vascular_invasion=False, catecholamine_excess=False, organ_of_zuckerkandl_location=False, multiple_adenopathy=False)), "localised Castleman disease recorded in full"),
 (Y, 1, dict(age_years=70, sex="female", greatest_dimension_mm=90, enhancement_pattern="mild_homogeneous", findings=dict(elevated_ldh=True, homogeneous=True, well_defined_margins=True, multiple_adenopathy=True, aorta_displaced_from_spine=True, necrosis=False, calcification=False, vascular_invasion=False, known_primary_malignancy=False)), "elderly lymphoma recorded in full"),
]
for truth, rank, d, note in CLEAR_FULL:
    case(truth, rank, d, note)

# A careful reader records more than the key signs: these fuller checklists (written per case, not
# by rule) carry the correlated findings the model must not count twice.
EXTRA = {
 "leiomyosarcoma-1": dict(homogeneous=False, cystic_change=True, lobulated=True, collateral_vessels=True, multiple_adenopathy=False, lymph_node_metastases=False, distant_metastases=False, well_defined_margins=True),
 "leiomyosarcoma-2": dict(homogeneous=False, cystic_change=True, well_defined_margins=True, calcification=False, organ_invasion=False, vascular_invasion=False, lymph_node_metastases=False, distant_metastases=False, b_symptoms=False),
 "leiomyosarcoma-5": dict(homogeneous=False, lobulated=True, low_t2_signal=False, restricted_diffusion=True, calcification=False),
 "leiomyosarcoma-6": dict(vascular_invasion=True, intravascular_component=True, homogeneous=False, collateral_vessels=True, ascites=True, hepatosplenomegaly=True),
 "leiomyosarcoma-9": dict(necrosis=True, homogeneous=False, hemorrhage=True, macroscopic_fat=False, calcification=False, lymph_node_metastases=False),
 "lymphoma-1": dict(hypoattenuating_ct=False, hemorrhage=False, cystic_change=False, intravascular_component=False, vascular_encasement_without_narrowing=True, aorta_hugs_spine=False, extranodal_disease=False, lymph_node_metastases=True),
 "lymphoma-2": dict(necrosis=False, calcification=False, vascular_invasion=False, well_defined_margins=True, aorta_displaced_from_spine=True),
 "lymphoma-5": dict(necrosis=False, calcification=False, vascular_invasion=False, aorta_hugs_spine=False, ureters_medially_deviated=False),
 "lymphoma-7": dict(necrosis=False, well_defined_margins=True, low_t2_signal=False, hepatosplenomegaly=True, elevated_ldh=True),
 "lymphoma-8": dict(well_defined_margins=True, aorta_displaced_from_spine=True, vascular_encasement_without_narrowing=True, b_symptoms=True, lymph_node_metastases=True),
 "nodal_metastases-1": dict(homogeneous=False, cystic_change=True, lymph_node_metastases=True, distant_metastases=False, macroscopic_fat=False, calcification=False),
 "nodal_metastases-3": dict(homogeneous=False, lymph_node_metastases=True, hydronephrosis=True),
 "nodal_metastases-5": dict(lymph_node_metastases=True, distant_metastases=True, claw_sign=True, vascular_invasion=False),
 "nodal_metastases-7": dict(lymph_node_metastases=True, homogeneous=False, distant_metastases=True),
 "liposarcoma-1": dict(homogeneous=False, necrosis=False, vascular_invasion=False, lymph_node_metastases=False, distant_metastases=False, organ_invasion=False),
 "liposarcoma-3": dict(homogeneous=False, cystic_change=False, well_defined_margins=True, vascular_encasement_without_narrowing=True),
 "liposarcoma-5": dict(well_defined_margins=True, vascular_invasion=False, hydronephrosis=True),
 "liposarcoma-7": dict(homogeneous=False, necrosis=False, lymph_node_metastases=False, distant_metastases=False),
 "neurofibroma-1": dict(well_defined_margins=True, high_t2_signal=True, calcification=False, necrosis=False, vascular_invasion=False),
 "neurofibroma-4": dict(homogeneous=False, high_t2_signal=True, target_sign_t2=True, calcification=False),
 "neurofibroma-6": dict(hypoattenuating_ct=True, dumbbell_shape=False, well_defined_margins=True, necrosis=False),
 "schwannoma-1": dict(cystic_change=False, necrosis=False, high_t2_signal=True, organ_invasion=False),
 "schwannoma-2": dict(homogeneous=False, necrosis=True, calcification=True, hypoattenuating_ct=True),
 "schwannoma-4": dict(well_defined_margins=True, homogeneous=False, calcification=False, vascular_invasion=False),
 "schwannoma-7": dict(well_defined_margins=True, necrosis=False, vascular_invasion=False),
 "ganglioneuroma-1": dict(well_defined_margins=True, homogeneous=True, vascular_invasion=False, high_t2_signal=True),
 "ganglioneuroma-2": dict(hemorrhage=False, cystic_change=False, homogeneous=True, high_t2_signal=True, vascular_invasion=False),
 "ganglioneuroma-5": dict(hemorrhage=False, lobulated=True, well_defined_margins=True, homogeneous=True),
 "paraganglioma-1": dict(hemorrhage=True, lobulated=True, homogeneous=False, cystic_change=True, calcification=False, macroscopic_fat=False),
 "paraganglioma-3": dict(homogeneous=False, cystic_change=True, well_defined_margins=True, macroscopic_fat=False),
 "paraganglioma-6": dict(homogeneous=False, necrosis=True, t1_hyperintense_nonsuppressing=True, organ_of_zuckerkandl_location=True),
 "teratoma-1": dict(homogeneous=False, well_defined_margins=True, necrosis=False),
 "teratoma-3": dict(homogeneous=False, fat_fluid_level=False, well_defined_margins=True),
 "teratoma-5": dict(macroscopic_fat=True, cystic_change=True, homogeneous=False),
 "renal_adrenal_neoplasm_with_thrombus-1": dict(claw_sign=True, vascular_invasion=True, necrosis=True, homogeneous=False, collateral_vessels=True, lymph_node_metastases=False, distant_metastases=False),
 "renal_adrenal_neoplasm_with_thrombus-3": dict(vascular_invasion=True, necrosis=True, homogeneous=False, hematuria=True, organ_invasion=True),
 "renal_adrenal_neoplasm_with_thrombus-6": dict(vascular_invasion=True, homogeneous=False, hemorrhage=True, claw_sign=True),
 "hematoma-1": dict(homogeneous=False, hemorrhage=True, macroscopic_fat=False, calcification=False, vascular_invasion=False, necrosis=False),
 "hematoma-3": dict(hemorrhage=True, fluid_fluid_level=True, homogeneous=False),
 "hematoma-4": dict(hemorrhage=True, retroperitoneal_fascial_thickening=True, homogeneous=False),
 "hematoma-5": dict(high_attenuation_collection=True, fluid_fluid_level=True, vascular_invasion=False),
 "hematoma-7": dict(hemorrhage=True, low_t2_signal=True, high_attenuation_collection=True),
 "retroperitoneal_fibrosis-1": dict(vascular_encasement_without_narrowing=True, hydronephrosis=True, homogeneous=True, aorta_displaced_from_spine=False, necrosis=False, multiple_adenopathy=False),
 "retroperitoneal_fibrosis-2": dict(vascular_encasement_without_narrowing=True, aorta_displaced_from_spine=False, low_t2_signal=True, homogeneous=True, infiltrative_margins=True),
 "retroperitoneal_fibrosis-3": dict(aorta_hugs_spine=True, ureters_medially_deviated=True, hydronephrosis=True, vascular_encasement_without_narrowing=True),
 "retroperitoneal_fibrosis-6": dict(aorta_hugs_spine=True, homogeneous=True, low_t2_signal=True, ureters_medially_deviated=True),
 "castleman_disease-1": dict(homogeneous=True, high_t2_signal=True, necrosis=False, vascular_invasion=False, multiple_adenopathy=False),
 "castleman_disease-3": dict(calcification=True, satellite_nodules=True, necrosis=False),
 "castleman_disease-4": dict(homogeneous=False, calcification=True, high_t2_signal=True, vascular_invasion=False),
}

# split: alternate within each truth so every diagnosis is in both sets; held-out = every second case
seen = {}
for c in C:
    k = seen.get(c["truth"], 0)
    seen[c["truth"]] = k + 1
    c["set"] = "fit" if k % 2 == 0 else "heldout"
for _i, c in enumerate(C):
    c["id"] = f"{c['truth']}-{[x for x in C if x['truth'] == c['truth']].index(c) + 1}"
for c in C:
    for k, v in EXTRA.get(c["id"], {}).items():
        c["findings"].setdefault("findings", {})
        assert k not in c["findings"]["findings"], (c["id"], k)
        c["findings"]["findings"][k] = v
assert set(EXTRA) <= {c["id"] for c in C}
doc = {"about": "Calibration cases for the ranking (benchmarks/calibration.py, tests/workstation/reasoning/test_reasoning_calibration.py). Written by the project from the article's table and text and from textbook knowledge of retroperitoneal masses, before the parameters were fitted: each a findings document, the true diagnosis, the rank it should reach at worst (target_rank) and whether the picture is genuinely ambiguous. 'set' splits them: the global parameters are fitted on 'fit' only; 'heldout' checks that the fit generalises. No case is a real patient.",
       "cases": [{k: c[k] for k in ("id", "set", "truth", "target_rank", "ambiguous", "note", "findings")} for c in C]}
json.dump(doc, open(Path(__file__).with_name("calibration_cases.json"), "w"), indent=1)
print(len(C), sum(c["set"] == "heldout" for c in C), sum(c["ambiguous"] for c in C))
